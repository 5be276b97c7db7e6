//! Brazilian Portuguese numbers.

use super::Gender;

const UNITS: [&str; 20] = [
    "zero",
    "um",
    "dois",
    "três",
    "quatro",
    "cinco",
    "seis",
    "sete",
    "oito",
    "nove",
    "dez",
    "onze",
    "doze",
    "treze",
    "quatorze",
    "quinze",
    "dezesseis",
    "dezessete",
    "dezoito",
    "dezenove",
];
const TENS: [&str; 10] = [
    "",
    "",
    "vinte",
    "trinta",
    "quarenta",
    "cinquenta",
    "sessenta",
    "setenta",
    "oitenta",
    "noventa",
];
const HUNDREDS: [&str; 10] = [
    "",
    "cento",
    "duzentos",
    "trezentos",
    "quatrocentos",
    "quinhentos",
    "seiscentos",
    "setecentos",
    "oitocentos",
    "novecentos",
];

const UNITS_ORD: [&str; 10] = [
    "", "primeiro", "segundo", "terceiro", "quarto", "quinto", "sexto", "sétimo", "oitavo", "nono",
];
const TENS_ORD: [&str; 10] = [
    "",
    "décimo",
    "vigésimo",
    "trigésimo",
    "quadragésimo",
    "quinquagésimo",
    "sexagésimo",
    "septuagésimo",
    "octogésimo",
    "nonagésimo",
];
const HUNDREDS_ORD: [&str; 10] = [
    "",
    "centésimo",
    "ducentésimo",
    "trecentésimo",
    "quadringentésimo",
    "quingentésimo",
    "sexcentésimo",
    "septingentésimo",
    "octingentésimo",
    "noningentésimo",
];

/// Index into a 10- or 20-entry table; `n` is always a small digit value here.
fn at(table: &[&'static str], n: u32) -> &'static str {
    table.get(n as usize).copied().unwrap_or("")
}

fn unit(n: u32, gender: Gender) -> String {
    match (n, gender) {
        (1, Gender::Feminine) => "uma".to_string(),
        (2, Gender::Feminine) => "duas".to_string(),
        _ => at(&UNITS, n).to_string(),
    }
}

fn hundreds(h: u32, gender: Gender) -> String {
    let word = at(&HUNDREDS, h);
    match gender {
        Gender::Feminine if word.ends_with("os") && h >= 2 => {
            format!("{}as", &word[..word.len() - 2])
        }
        _ => word.to_string(),
    }
}

/// 1..=999 in words.
fn below_thousand(n: u32, gender: Gender) -> String {
    if n == 100 {
        return "cem".to_string();
    }
    let (h, rest) = (n / 100, n % 100);
    let mut parts = Vec::with_capacity(3);
    if h > 0 {
        parts.push(hundreds(h, gender));
    }
    if rest >= 20 {
        parts.push(at(&TENS, rest / 10).to_string());
        if rest % 10 > 0 {
            parts.push(unit(rest % 10, gender));
        }
    } else if rest > 0 {
        parts.push(unit(rest, gender));
    }
    parts.join(" e ")
}

/// Cardinal numbers: "vinte e três", "cento e um", "mil e duzentos".
pub(super) fn cardinal(n: u32, gender: Gender) -> String {
    if n == 0 {
        return "zero".to_string();
    }
    let billions = n / 1_000_000_000;
    let millions = n / 1_000_000 % 1000;
    let thousands = n / 1000 % 1000;
    let units = n % 1000;
    // (words, value of the 3-digit group): the value decides the "e" before the last.
    let mut parts: Vec<(String, u32)> = Vec::with_capacity(4);
    for (count, one, many) in [
        (billions, "um bilhão", "bilhões"),
        (millions, "um milhão", "milhões"),
    ] {
        if count == 1 {
            parts.push((one.to_string(), count));
        } else if count > 1 {
            // Milhão and bilhão are masculine nouns whatever is being counted.
            parts.push((
                format!("{} {many}", below_thousand(count, Gender::Masculine)),
                count,
            ));
        }
    }
    if thousands == 1 {
        parts.push(("mil".to_string(), 1));
    } else if thousands > 1 {
        parts.push((
            format!("{} mil", below_thousand(thousands, gender)),
            thousands,
        ));
    }
    if units > 0 {
        parts.push((below_thousand(units, gender), units));
    }
    let mut out = String::new();
    let last = parts.len().saturating_sub(1);
    for (i, (words, value)) in parts.iter().enumerate() {
        if i > 0 {
            // "mil e duzentos", "mil e um", but "mil duzentos e cinquenta".
            let joined_by_e = i == last && (*value < 100 || value % 100 == 0);
            out.push_str(if joined_by_e { " e " } else { " " });
        }
        out.push_str(words);
    }
    out
}

/// 1..=999 as a masculine ordinal.
fn ordinal_below_thousand(n: u32) -> String {
    [
        at(&HUNDREDS_ORD, n / 100),
        at(&TENS_ORD, n / 10 % 10),
        at(&UNITS_ORD, n % 10),
    ]
    .iter()
    .filter(|w| !w.is_empty())
    .copied()
    .collect::<Vec<_>>()
    .join(" ")
}

/// Masculine ordinals: "terceiro", "vigésimo primeiro", "milésimo".
pub(super) fn ordinal(n: u32) -> String {
    if n == 0 {
        return "zerésimo".to_string();
    }
    let mut parts = Vec::with_capacity(4);
    for (count, word) in [
        (n / 1_000_000_000, "bilionésimo"),
        (n / 1_000_000 % 1000, "milionésimo"),
        (n / 1000 % 1000, "milésimo"),
    ] {
        if count == 1 {
            parts.push(word.to_string());
        } else if count > 1 {
            parts.push(format!("{} {word}", ordinal_below_thousand(count)));
        }
    }
    if n % 1000 > 0 {
        parts.push(ordinal_below_thousand(n % 1000));
    }
    parts.join(" ")
}

/// The wait sentence for a rounded number of minutes.
pub(super) fn wait(minutes: u64, max_minutes: u64) -> String {
    if minutes == 0 {
        return "menos de um minuto".to_string();
    }
    if minutes >= max_minutes {
        let hours = u32::try_from(max_minutes / 60).unwrap_or(u32::MAX);
        return format!("mais de {} horas", cardinal(hours, Gender::Feminine));
    }
    // Below max_minutes, so both fit a u32.
    let hours = u32::try_from(minutes / 60).unwrap_or(u32::MAX);
    let mins = u32::try_from(minutes % 60).unwrap_or(0);
    let mut parts = Vec::with_capacity(2);
    match hours {
        0 => {}
        1 => parts.push("uma hora".to_string()),
        h => parts.push(format!("{} horas", cardinal(h, Gender::Feminine))),
    }
    match mins {
        0 => {}
        1 => parts.push("um minuto".to_string()),
        m => parts.push(format!("{} minutos", cardinal(m, Gender::Masculine))),
    }
    format!("cerca de {}", parts.join(" e "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(n: u32) -> String {
        cardinal(n, Gender::Masculine)
    }

    #[test]
    fn cardinals() {
        for (n, s) in [
            (0, "zero"),
            (1, "um"),
            (2, "dois"),
            (10, "dez"),
            (14, "quatorze"),
            (16, "dezesseis"),
            (19, "dezenove"),
            (20, "vinte"),
            (21, "vinte e um"),
            (23, "vinte e três"),
            (99, "noventa e nove"),
            (100, "cem"),
            (101, "cento e um"),
            (110, "cento e dez"),
            (123, "cento e vinte e três"),
            (200, "duzentos"),
            (555, "quinhentos e cinquenta e cinco"),
            (1000, "mil"),
            (1001, "mil e um"),
            (1100, "mil e cem"),
            (1101, "mil cento e um"),
            (1200, "mil e duzentos"),
            (1250, "mil duzentos e cinquenta"),
            (2000, "dois mil"),
            (2023, "dois mil e vinte e três"),
            (21_000, "vinte e um mil"),
            (100_000, "cem mil"),
            (101_000, "cento e um mil"),
            (1_000_000, "um milhão"),
            (1_000_001, "um milhão e um"),
            (1_200_000, "um milhão e duzentos mil"),
            (2_000_000, "dois milhões"),
            (1_000_000_000, "um bilhão"),
            (3_000_000_500, "três bilhões e quinhentos"),
        ] {
            assert_eq!(c(n), s, "{n}");
        }
    }

    #[test]
    fn feminine_agreement() {
        let f = |n| cardinal(n, Gender::Feminine);
        assert_eq!(f(1), "uma");
        assert_eq!(f(2), "duas");
        assert_eq!(f(12), "doze");
        assert_eq!(f(22), "vinte e duas");
        assert_eq!(f(100), "cem");
        assert_eq!(f(101), "cento e uma");
        assert_eq!(f(200), "duzentas");
        assert_eq!(f(2_000), "duas mil");
        assert_eq!(f(2_000_000), "dois milhões");
        assert_eq!(f(1_000_001), "um milhão e uma");
    }

    #[test]
    fn ordinals() {
        for (n, s) in [
            (1, "primeiro"),
            (2, "segundo"),
            (3, "terceiro"),
            (7, "sétimo"),
            (10, "décimo"),
            (11, "décimo primeiro"),
            (20, "vigésimo"),
            (21, "vigésimo primeiro"),
            (99, "nonagésimo nono"),
            (100, "centésimo"),
            (101, "centésimo primeiro"),
            (345, "trecentésimo quadragésimo quinto"),
            (1000, "milésimo"),
            (2000, "segundo milésimo"),
            (1001, "milésimo primeiro"),
            (0, "zerésimo"),
        ] {
            assert_eq!(ordinal(n), s, "{n}");
        }
    }
}
