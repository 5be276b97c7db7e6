//! Words for "we open again on ...", to be spoken by text-to-speech.

use chrono::{DateTime, Datelike, Timelike, Weekday};
use chrono_tz::Tz;
use serde::Deserialize;

/// Language of the spoken words.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Lang {
    /// Brazilian Portuguese.
    #[default]
    #[serde(rename = "pt-BR")]
    PtBr,
    /// English.
    #[serde(rename = "en")]
    En,
}

/// The words for the next opening, relative to `now`, both in the
/// schedule's zone: "hoje às 13 horas e 30 minutos", "amanhã às 8 horas",
/// "segunda-feira às 8 horas" (within the week), "25 de dezembro às 8
/// horas" (further away); in English "today at 1:30 PM", "Monday at 8 AM",
/// "December 25 at 8 AM".
pub fn describe_next_opening(next: DateTime<Tz>, now: DateTime<Tz>, lang: Lang) -> String {
    let days = (next.date_naive() - now.date_naive()).num_days();
    let (hour, minute) = (next.hour(), next.minute());
    match lang {
        Lang::PtBr => {
            let day = match days {
                0 => "hoje".to_owned(),
                1 => "amanhã".to_owned(),
                2..=6 => pt_weekday(next.weekday()).to_owned(),
                _ => pt_date(next.day(), next.month()),
            };
            format!("{day} {}", pt_time(hour, minute))
        }
        Lang::En => {
            let day = match days {
                0 => "today".to_owned(),
                1 => "tomorrow".to_owned(),
                2..=6 => en_weekday(next.weekday()).to_owned(),
                _ => format!("{} {}", en_month(next.month()), next.day()),
            };
            format!("{day} at {}", en_time(hour, minute))
        }
    }
}

fn pt_weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "segunda-feira",
        Weekday::Tue => "terça-feira",
        Weekday::Wed => "quarta-feira",
        Weekday::Thu => "quinta-feira",
        Weekday::Fri => "sexta-feira",
        Weekday::Sat => "sábado",
        Weekday::Sun => "domingo",
    }
}

fn pt_date(day: u32, month: u32) -> String {
    const MONTHS: [&str; 12] = [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ];
    let month = MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("");
    if day == 1 {
        format!("primeiro de {month}")
    } else {
        format!("{day} de {month}")
    }
}

fn pt_time(hour: u32, minute: u32) -> String {
    let hour = match hour {
        0 => "à meia-noite".to_owned(),
        12 => "ao meio-dia".to_owned(),
        1 => "à 1 hora".to_owned(),
        h => format!("às {h} horas"),
    };
    match minute {
        0 => hour,
        1 => format!("{hour} e 1 minuto"),
        m => format!("{hour} e {m} minutos"),
    }
}

fn en_weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "Monday",
        Weekday::Tue => "Tuesday",
        Weekday::Wed => "Wednesday",
        Weekday::Thu => "Thursday",
        Weekday::Fri => "Friday",
        Weekday::Sat => "Saturday",
        Weekday::Sun => "Sunday",
    }
}

fn en_month(month: u32) -> &'static str {
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    MONTHS
        .get(month.saturating_sub(1) as usize)
        .copied()
        .unwrap_or("")
}

fn en_time(hour: u32, minute: u32) -> String {
    match (hour, minute) {
        (0, 0) => "midnight".to_owned(),
        (12, 0) => "noon".to_owned(),
        _ => {
            let half = if hour < 12 { "AM" } else { "PM" };
            let h12 = match hour % 12 {
                0 => 12,
                h => h,
            };
            if minute == 0 {
                format!("{h12} {half}")
            } else {
                format!("{h12}:{minute:02} {half}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn sp(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Tz> {
        chrono_tz::America::Sao_Paulo
            .with_ymd_and_hms(y, mo, d, h, mi, 0)
            .unwrap()
    }

    #[test]
    fn portuguese() {
        // 2024-06-14 is a Friday.
        let now = sp(2024, 6, 14, 19, 0);
        let say = |next| describe_next_opening(next, now, Lang::PtBr);
        assert_eq!(say(sp(2024, 6, 17, 8, 0)), "segunda-feira às 8 horas");
        assert_eq!(
            say(sp(2024, 6, 14, 13, 30)),
            "hoje às 13 horas e 30 minutos"
        );
        assert_eq!(say(sp(2024, 6, 15, 8, 0)), "amanhã às 8 horas");
        assert_eq!(say(sp(2024, 6, 15, 1, 1)), "amanhã à 1 hora e 1 minuto");
        assert_eq!(say(sp(2024, 6, 15, 12, 0)), "amanhã ao meio-dia");
        assert_eq!(say(sp(2024, 6, 16, 0, 0)), "domingo à meia-noite");
        assert_eq!(say(sp(2024, 12, 25, 8, 0)), "25 de dezembro às 8 horas");
        assert_eq!(
            say(sp(2025, 1, 1, 9, 15)),
            "primeiro de janeiro às 9 horas e 15 minutos"
        );
    }

    #[test]
    fn english() {
        let now = sp(2024, 6, 14, 19, 0);
        let say = |next| describe_next_opening(next, now, Lang::En);
        assert_eq!(say(sp(2024, 6, 17, 8, 0)), "Monday at 8 AM");
        assert_eq!(say(sp(2024, 6, 14, 13, 30)), "today at 1:30 PM");
        assert_eq!(say(sp(2024, 6, 15, 8, 0)), "tomorrow at 8 AM");
        assert_eq!(say(sp(2024, 6, 15, 12, 0)), "tomorrow at noon");
        assert_eq!(say(sp(2024, 6, 16, 0, 0)), "Sunday at midnight");
        assert_eq!(say(sp(2024, 6, 16, 0, 5)), "Sunday at 12:05 AM");
        assert_eq!(say(sp(2024, 12, 25, 8, 0)), "December 25 at 8 AM");
    }

    #[test]
    fn seven_days_ahead_says_the_date_not_the_weekday() {
        let now = sp(2024, 6, 14, 19, 0);
        assert_eq!(
            describe_next_opening(sp(2024, 6, 21, 8, 0), now, Lang::PtBr),
            "21 de junho às 8 horas"
        );
    }
}
