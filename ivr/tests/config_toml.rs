//! Schedule and IVR configuration from TOML, and their validation errors.

use chrono::{TimeZone, Utc};
use ura_ivr::{
    Fallback, Ivr, IvrConfig, IvrError, MenuId, Schedule, ScheduleConfig, ServiceId, Target,
};

const SCHEDULE: &str = r#"
timezone = "America/Sao_Paulo"
always_open = false
weekly = { mon = ["08:00-12:00", "13:00-18:00"], fri = ["22:00-02:00"] }
holidays = ["2024-12-25", "*-12-25", "*-01-01"]
special = [{ date = "2024-12-24", hours = ["08:00-12:00"] }]
"#;

fn build(text: &str) -> Result<Schedule, IvrError> {
    toml::from_str::<ScheduleConfig>(text).unwrap().build()
}

#[test]
fn schedule_from_the_documented_toml() {
    let s = build(SCHEDULE).unwrap();
    assert_eq!(s.timezone(), chrono_tz::America::Sao_Paulo);
    // Monday 2024-06-10 10:00 -03 is open, 12:30 is not.
    assert!(s.is_open(Utc.with_ymd_and_hms(2024, 6, 10, 13, 0, 0).unwrap()));
    assert!(!s.is_open(Utc.with_ymd_and_hms(2024, 6, 10, 15, 30, 0).unwrap()));
    // Friday night into Saturday 01:00 -03.
    assert!(s.is_open(Utc.with_ymd_and_hms(2024, 6, 15, 4, 0, 0).unwrap()));
    // 2024-12-24 (Tuesday) special hours 08-12 -03.
    assert!(s.is_open(Utc.with_ymd_and_hms(2024, 12, 24, 11, 0, 0).unwrap()));
    // A Monday 2029-01-01 is a yearly holiday.
    assert!(!s.is_open(Utc.with_ymd_and_hms(2029, 1, 1, 13, 0, 0).unwrap()));
    // Deserializing a Schedule directly gives the same thing.
    assert_eq!(toml::from_str::<Schedule>(SCHEDULE).unwrap(), s);
}

#[test]
fn always_open_from_toml() {
    let s = build("timezone = \"Europe/Lisbon\"\nalways_open = true").unwrap();
    assert!(s.is_always_open());
}

fn error_field(err: IvrError) -> String {
    match err {
        IvrError::BadTime { field, .. }
        | IvrError::Overlap { field, .. }
        | IvrError::BadZone { field, .. }
        | IvrError::BadDate { field, .. }
        | IvrError::BadKeys { field, .. }
        | IvrError::DuplicateDigits { field, .. }
        | IvrError::UnknownMenu { field, .. }
        | IvrError::BadValue { field, .. } => field,
    }
}

#[test]
fn schedule_errors_name_the_field() {
    let cases = [
        ("timezone = \"America/Sao_Pablo\"", "timezone"),
        (
            "timezone = \"UTC\"\nweekly = { mon = [\"08:00-12:00\", \"13:00-25:00\"] }",
            "weekly.mon[1]",
        ),
        (
            "timezone = \"UTC\"\nholidays = [\"*-12-25\", \"2023-02-29\"]",
            "holidays[1]",
        ),
        (
            "timezone = \"UTC\"\nspecial = [{ date = \"2024-12-24\", hours = [\"8h\"] }]",
            "special[0].hours[0]",
        ),
        (
            "timezone = \"UTC\"\nspecial = [{ date = \"24/12\" }]",
            "special[0].date",
        ),
    ];
    for (text, field) in cases {
        let err = build(text).unwrap_err();
        assert_eq!(error_field(err.clone()), field, "{text}");
        assert!(err.to_string().starts_with(field), "{err}");
    }
}

#[test]
fn schedule_errors_surface_through_serde() {
    let err = toml::from_str::<Schedule>("timezone = \"Mars/Olympus\"").unwrap_err();
    assert!(
        err.to_string().contains("timezone: unknown time zone"),
        "{err}"
    );
    let err = toml::from_str::<Schedule>("timezone = \"UTC\"\nweekly = { mond = [] }").unwrap_err();
    assert!(err.to_string().contains("mond"), "{err}");
}

const IVR: &str = r#"
welcome = "boas-vindas"
closed = "fechado"
operator = "recepcao"
fallback = { service = "geral" }
max_failures = 2

[menu]
prompt = "menu-principal"
items = [
  { digits = "1", label = "vendas", target = { service = "vendas" } },
  { digits = "2", label = "suporte", target = { menu = "suporte" } },
]

[submenus.suporte]
items = [
  { digits = "11", label = "internet", target = { service = "internet" } },
  { digits = "12", label = "telefone", target = { service = "telefone" } },
]

[submenus.antigo]
items = [{ digits = "1", label = "x", target = { service = "x" } }]

[timeouts]
first_digit_ms = 4000
"#;

#[test]
fn ivr_from_toml() {
    let config: IvrConfig = toml::from_str(IVR).unwrap();
    assert_eq!(config.timeouts.first_digit_ms, 4000);
    assert_eq!(config.timeouts.inter_digit_ms, 3000);
    assert_eq!(config.max_failures, 2);
    assert_eq!(config.keys.repeat, '*');
    assert_eq!(config.fallback, Fallback::Service(ServiceId::from("geral")));
    assert_eq!(
        config.menu.items[1].target,
        Target::Menu(MenuId::from("suporte"))
    );
    let ivr = config.validate().unwrap();
    assert_eq!(ivr.unreachable_menus(), vec![MenuId::from("antigo")]);
    assert_eq!(ivr.single_service(), None);
    let defaults: IvrConfig = toml::from_str(
        "[menu]\nitems = [{ digits = \"1\", label = \"a\", target = { service = \"a\" } }]",
    )
    .unwrap();
    assert_eq!(defaults.fallback, Fallback::Hangup);
    assert_eq!(defaults.max_failures, 3);
    assert!(defaults.say_next_opening);
    assert_eq!(
        Ivr::new(defaults).unwrap().single_service(),
        Some(&ServiceId::from("a"))
    );
}

#[test]
fn ivr_validation_errors_name_the_field() {
    let base: IvrConfig = toml::from_str(IVR).unwrap();
    let check = |edit: &dyn Fn(&mut IvrConfig), field: &str| {
        let mut config = base.clone();
        edit(&mut config);
        let err = Ivr::new(config).unwrap_err();
        assert_eq!(error_field(err.clone()), field, "{err}");
    };
    check(&|c| c.menu.items[1].digits = "1".into(), "menu.items");
    check(
        &|c| c.menu.items[1].target = Target::Menu(MenuId::from("nada")),
        "menu.items[1].target.menu",
    );
    check(
        &|c| c.menu.items[0].digits = "0".into(),
        "menu.items[0].digits",
    );
    check(
        &|c| c.menu.items[0].digits = "1*".into(),
        "menu.items[0].digits",
    );
    check(
        &|c| c.menu.items[0].digits = "".into(),
        "menu.items[0].digits",
    );
    check(
        &|c| c.menu.items[0].digits = "123456789".into(),
        "menu.items[0].digits",
    );
    check(
        &|c| c.menu.items[0].digits = "1x".into(),
        "menu.items[0].digits",
    );
    check(&|c| c.menu.items.clear(), "menu.items");
    check(
        &|c| {
            if let Some(m) = c.submenus.get_mut(&MenuId::from("suporte")) {
                m.items[1].digits = "11".into();
            }
        },
        "submenus.suporte.items",
    );
    check(&|c| c.keys.terminator = '*', "keys.terminator");
    check(&|c| c.keys.repeat = 'x', "keys.repeat");
    check(&|c| c.keys.operator = '*', "keys.operator");
    check(
        &|c| c.timeouts.inter_digit_ms = 0,
        "timeouts.inter_digit_ms",
    );
    check(&|c| c.max_failures = 0, "max_failures");
    check(&|c| c.max_menu_plays = 0, "max_menu_plays");
    check(
        &|c| c.fallback = Fallback::Service("".into()),
        "fallback.service",
    );
    check(
        &|c| {
            let main = c.menu.clone();
            c.submenus.insert(MenuId::root(), main);
        },
        "submenus.main",
    );
    // Without an operator, 0 is an ordinary option.
    let mut config = base.clone();
    config.operator = None;
    config.menu.items[0].digits = "0".into();
    assert!(Ivr::new(config).is_ok());
}

#[test]
fn menu_cycles_are_allowed() {
    let mut config: IvrConfig = toml::from_str(IVR).unwrap();
    if let Some(m) = config.submenus.get_mut(&MenuId::from("suporte")) {
        m.items[0].target = Target::Menu(MenuId::root());
    }
    assert!(Ivr::new(config).is_ok());
}
