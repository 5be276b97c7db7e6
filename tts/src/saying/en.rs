//! English numbers (US usage).

const ONES: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];

fn at(table: &[&'static str], n: u32) -> &'static str {
    table.get(n as usize).copied().unwrap_or("")
}

/// 1..=999 in words.
fn below_thousand(n: u32) -> String {
    let (h, rest) = (n / 100, n % 100);
    let mut out = String::new();
    if h > 0 {
        out.push_str(at(&ONES, h));
        out.push_str(" hundred");
    }
    if rest > 0 {
        if h > 0 {
            out.push(' ');
        }
        if rest < 20 {
            out.push_str(at(&ONES, rest));
        } else {
            out.push_str(at(&TENS, rest / 10));
            if rest % 10 > 0 {
                out.push('-');
                out.push_str(at(&ONES, rest % 10));
            }
        }
    }
    out
}

/// Cardinal numbers: "twenty-three", "one hundred one", "two thousand".
pub(super) fn cardinal(n: u32) -> String {
    if n == 0 {
        return "zero".to_string();
    }
    let mut parts = Vec::with_capacity(4);
    for (count, scale) in [
        (n / 1_000_000_000, " billion"),
        (n / 1_000_000 % 1000, " million"),
        (n / 1000 % 1000, " thousand"),
        (n % 1000, ""),
    ] {
        if count > 0 {
            parts.push(format!("{}{scale}", below_thousand(count)));
        }
    }
    parts.join(" ")
}

/// Ordinals: "third", "twenty-first", "one hundredth".
pub(super) fn ordinal(n: u32) -> String {
    let words = cardinal(n);
    let split = words.rfind([' ', '-']).map_or(0, |i| i + 1);
    let (head, last) = words.split_at(split);
    let last = match last {
        "one" => "first".to_string(),
        "two" => "second".to_string(),
        "three" => "third".to_string(),
        "five" => "fifth".to_string(),
        "eight" => "eighth".to_string(),
        "nine" => "ninth".to_string(),
        "twelve" => "twelfth".to_string(),
        w if w.ends_with('y') => format!("{}ieth", &w[..w.len() - 1]),
        w => format!("{w}th"),
    };
    format!("{head}{last}")
}

/// The wait sentence for a rounded number of minutes.
pub(super) fn wait(minutes: u64, max_minutes: u64) -> String {
    if minutes == 0 {
        return "less than a minute".to_string();
    }
    let plural = |n: u64, unit: &str| {
        let words = cardinal(u32::try_from(n).unwrap_or(u32::MAX));
        if n == 1 {
            format!("{words} {unit}")
        } else {
            format!("{words} {unit}s")
        }
    };
    if minutes >= max_minutes {
        return format!("more than {}", plural(max_minutes / 60, "hour"));
    }
    let mut parts = Vec::with_capacity(2);
    if minutes >= 60 {
        parts.push(plural(minutes / 60, "hour"));
    }
    if minutes % 60 > 0 {
        parts.push(plural(minutes % 60, "minute"));
    }
    format!("about {}", parts.join(" and "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cardinals() {
        for (n, s) in [
            (0, "zero"),
            (1, "one"),
            (13, "thirteen"),
            (20, "twenty"),
            (23, "twenty-three"),
            (100, "one hundred"),
            (101, "one hundred one"),
            (1000, "one thousand"),
            (1200, "one thousand two hundred"),
            (2000, "two thousand"),
            (1_000_001, "one million one"),
        ] {
            assert_eq!(cardinal(n), s, "{n}");
        }
    }

    #[test]
    fn ordinals() {
        for (n, s) in [
            (0, "zeroth"),
            (1, "first"),
            (2, "second"),
            (3, "third"),
            (4, "fourth"),
            (5, "fifth"),
            (8, "eighth"),
            (9, "ninth"),
            (11, "eleventh"),
            (12, "twelfth"),
            (13, "thirteenth"),
            (20, "twentieth"),
            (21, "twenty-first"),
            (22, "twenty-second"),
            (40, "fortieth"),
            (100, "one hundredth"),
            (101, "one hundred first"),
            (112, "one hundred twelfth"),
            (1000, "one thousandth"),
        ] {
            assert_eq!(ordinal(n), s, "{n}");
        }
    }
}
