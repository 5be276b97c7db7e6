//! The OpenAPI 3.1 document of the admin API (`GET /openapi.json`), built
//! with utoipa's builders from [`operations`]: one entry per route and
//! method the router has, generated for the configuration's kinds from the
//! same [`Kind::ALL`] the router loops over. A test reads the router's
//! `.route(…)` calls and fails when one is missing here (or one here is not
//! routed).
//!
//! The configuration objects are described by the fields of their table in
//! the configuration file, typed where the engine's types are plain
//! (strings, integers, booleans, lists) and left open where they are
//! nested (menus, timeouts, strategies…): the engine checks every value,
//! and refuses what it cannot run with 422 naming the field.

use utoipa::openapi::path::{
    HttpMethod, Operation, OperationBuilder, Parameter, ParameterBuilder, ParameterIn,
};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, ComponentsBuilder, ObjectBuilder, Schema, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::TagBuilder;
use utoipa::openapi::{
    Content, HeaderBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem, Paths, RefOr, Required,
};

use crate::docs::Kind;

/// One documented operation: its method, its path (axum's `{name}`
/// templates, which are OpenAPI's too) and what it takes and answers.
pub struct Op {
    /// The HTTP method.
    pub method: HttpMethod,
    /// The path, as routed.
    pub path: String,
    /// The operation.
    pub operation: Operation,
}

/// A field's type in a schema.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    OptStr,
    Int,
    OptInt,
    Bool,
    StrList,
    /// An object (nested table) or a map.
    Obj,
    /// Any JSON value the engine reads (an enum name, a table…).
    Any,
}

fn ty(t: Ty, description: &str) -> RefOr<Schema> {
    let b = ObjectBuilder::new().description(Some(description));
    let b = match t {
        Ty::Str => b.schema_type(Type::String),
        Ty::OptStr => b.schema_type(SchemaType::from_iter([Type::String, Type::Null])),
        Ty::Int => b.schema_type(Type::Integer).minimum(Some(0)),
        Ty::OptInt => b.schema_type(SchemaType::from_iter([Type::Integer, Type::Null])),
        Ty::Bool => b.schema_type(Type::Boolean),
        Ty::StrList => {
            return ArrayBuilder::new()
                .items(ObjectBuilder::new().schema_type(Type::String))
                .description(Some(description))
                .into()
        }
        Ty::Obj => b.schema_type(Type::Object),
        Ty::Any => b.schema_type(SchemaType::AnyValue),
    };
    b.into()
}

/// The fields of a kind's table in the configuration file.
fn fields(kind: Kind) -> Vec<(&'static str, Ty, &'static str)> {
    use Ty::*;
    match kind {
        Kind::Numbers => vec![
            (
                "number",
                Str,
                "The number as callers dial it (its id is this without spaces or dashes).",
            ),
            (
                "country",
                OptStr,
                "Country calling code, so national and E.164 forms match.",
            ),
            ("area_code", OptStr, "Area code, so local forms match."),
            ("name", Str, "What the number is, for people."),
            (
                "timezone",
                OptStr,
                "IANA time zone of the number's schedule.",
            ),
            (
                "language",
                Any,
                "Language of the prompts (`pt-BR`, `en-US`).",
            ),
            ("ivr", Str, "The IVR callers reach."),
            (
                "schedule",
                OptStr,
                "Business hours; closed plays the IVR's `closed` prompt.",
            ),
        ],
        Kind::Schedules => vec![
            ("timezone", Str, "IANA time zone (`America/Sao_Paulo`)."),
            ("always_open", Bool, "Open at every hour."),
            (
                "weekly",
                Obj,
                "Opening windows per weekday: `mon`…`sun`, each a list of `HH:MM-HH:MM`.",
            ),
            (
                "holidays",
                StrList,
                "Closed days, `YYYY-MM-DD` (or `MM-DD` every year).",
            ),
            (
                "special",
                Any,
                "Days with other hours: a list of `{date, hours}`.",
            ),
        ],
        Kind::Services => vec![
            ("name", Str, "What callers choose."),
            ("schedule", OptStr, "Its own business hours."),
            ("queue", OptStr, "The agent queue that takes its calls."),
            (
                "hold_seconds",
                Int,
                "Without a queue: hold music for this long, then \"no agents\".",
            ),
        ],
        Kind::Ivrs => vec![
            ("welcome", OptStr, "Prompt played first."),
            (
                "closed",
                OptStr,
                "Prompt played when the number's schedule is closed.",
            ),
            (
                "say_next_opening",
                Bool,
                "When closed, say when it opens next.",
            ),
            (
                "welcome_barge_in",
                Bool,
                "A key during the welcome counts as the menu's first key.",
            ),
            (
                "menu",
                Obj,
                "The top menu: `prompt` and `items` (`digits`, `label`, `target`).",
            ),
            ("submenus", Obj, "More menus by id, in the shape of `menu`."),
            (
                "invalid_option",
                OptStr,
                "Prompt for a key that is no option.",
            ),
            ("no_input", OptStr, "Prompt when no key comes."),
            (
                "no_answer",
                OptStr,
                "Prompt before hanging up after too many failures.",
            ),
            (
                "service_closed",
                OptStr,
                "Prompt when the chosen service is closed.",
            ),
            ("timeouts", Obj, "`first_digit_ms`, `inter_digit_ms`."),
            (
                "keys",
                Any,
                "Keys with a meaning in every menu (repeat, back, operator).",
            ),
            ("max_failures", Int, "Failures before the fallback."),
            (
                "max_menu_plays",
                Int,
                "Times a menu is played without input.",
            ),
            ("fallback", Any, "What happens after too many failures."),
            ("operator", OptStr, "Service the operator key goes to."),
        ],
        Kind::Queues => vec![
            ("name", OptStr, "For people."),
            (
                "strategy",
                Any,
                "How an agent is chosen (`longest_idle`, `round_robin`, …).",
            ),
            ("ring_seconds", Int, "How long an agent's phone rings."),
            (
                "retry_seconds",
                Int,
                "Pause before offering the call again.",
            ),
            (
                "wrapup_seconds",
                Int,
                "After-call work before the next call.",
            ),
            ("max_waiting", OptInt, "Callers waiting at most."),
            ("max_wait_seconds", OptInt, "Longest wait before `exit`."),
            (
                "join_empty",
                Bool,
                "Callers may join while no agent is logged in.",
            ),
            (
                "leave_empty",
                Bool,
                "Callers leave when the last agent logs out.",
            ),
            (
                "announce_seconds",
                Int,
                "Position and wait announced this often (0: never).",
            ),
            (
                "service_level_seconds",
                Int,
                "Answered within this counts for the service level.",
            ),
            (
                "level_step_seconds",
                Int,
                "Wait after which more agents' skills are taken.",
            ),
            ("hold_music", OptStr, "Prompt played while waiting."),
            (
                "periodic_prompt",
                OptStr,
                "Prompt played every `periodic_seconds`.",
            ),
            (
                "periodic_seconds",
                Int,
                "How often `periodic_prompt` plays.",
            ),
            ("exit_key", OptStr, "A key that leaves the queue."),
            ("exit", Any, "Where a caller leaving the queue goes."),
            ("record", Any, "Which calls are recorded."),
        ],
        Kind::Agents => vec![
            ("name", Str, "The agent's name."),
            (
                "queues",
                Obj,
                "Queues the agent takes calls from, each with a priority (integer).",
            ),
            ("skills", StrList, "Skills."),
            ("voice", Int, "Voice calls at once."),
            ("chat", Int, "Chats at once."),
            ("logged_in", Bool, "Logged in at start."),
            (
                "missed_to_pause",
                Int,
                "Missed offers before an automatic pause (0: never).",
            ),
            (
                "supervisor",
                Bool,
                "A supervisor: takes calls and chats as any agent, and their desk also \
                 shows every queue (waiting calls and chats) and every agent's state live \
                 (default false).",
            ),
        ],
        Kind::Channels => vec![
            (
                "type",
                Str,
                "`webchat` (the widget served by ura) or `omni` (the generic channel: an \
                 outside system posts its customers' messages to `/omni/{id}/messages` and \
                 gets ura's side at its webhook).",
            ),
            ("description", Str, "A name for admins."),
            (
                "ivr",
                OptStr,
                "The IVR whose menu runs as the text menu (\"Digite 1 para vendas, 2 para \
                 suporte\"), with its hours and retries. Give this or `service`.",
            ),
            (
                "service",
                OptStr,
                "Straight to this service's queue, without a menu. Give this or `ivr`.",
            ),
            (
                "schedule",
                OptStr,
                "Business hours; always open when absent.",
            ),
            (
                "enabled",
                Bool,
                "Takes conversations (default true); disabled, the widget says the chat is \
                 unavailable.",
            ),
            (
                "receptive",
                Bool,
                "Only receives: ura never starts a conversation on it (default true).",
            ),
            (
                "smtp",
                OptStr,
                "The SMTP server (an `smtp` object of the same company) that e-mails \
                 transcripts; needed when `webchat.transcript` is on.",
            ),
            (
                "webchat",
                Obj,
                "The web chat's settings: `title`, `subtitle`, `welcome` (the first \
                 message), `language` (`pt-BR`, `en`, `es`), `colors` (`background`, `font`, \
                 `visitor_message`, `button`: `#rgb` or `#rrggbb`), `fields` (`name`, \
                 `email`, `phone`, `document`: `off`, `optional` or `required`), \
                 `auto_open`, `closing` (said when the agent closes), `started` (`none`, \
                 `simple`, `agent`: what is said when an agent joins), `attachments` \
                 (files the visitor and the agent send: `max_bytes`, the largest file, \
                 default 5 MiB, at most 25 MiB; `types`, the allowed MIME types among \
                 image/png, image/jpeg, image/gif, image/webp, application/pdf, \
                 text/plain, audio/mpeg, audio/ogg, default the first six, empty for no \
                 files; `max_total_bytes`, what the channel's open conversations keep on \
                 disk together, default 1 GiB), `transcript` \
                 (default false: the transcript is e-mailed to a visitor who gave an e-mail, \
                 through the channel's `smtp`), `survey` (default \
                 true: a rating of 1-5 and a comment offered when the agent or the visitor \
                 ends the conversation).",
            ),
            (
                "omni",
                Obj,
                "The omni channel's settings: `webhook_url` (where ura POSTs \
                 `conversation.message` and `conversation.status` events as JSON, signed in \
                 `Ura-Signature` like every webhook; retried 1 s, 2 s, 5 s, 10 s, 30 s, 1 min, \
                 then every 5 min for 24 h; order them by `data.seq`), `key` (the Bearer key \
                 of `POST /omni/{id}/messages`) and `secret` (the signature's HMAC key): at \
                 least 16 characters each, made by ura when left out (shown once, in the \
                 answer that made them; then only `key_set`/`secret_set`), and `language`, \
                 `welcome`, `closing`, `started` as for the web chat.",
            ),
        ],
        Kind::Smtp => vec![
            ("host", Str, "The SMTP server's name or address."),
            ("port", Int, "Its port (default 587)."),
            (
                "security",
                Str,
                "`none` (plain text), `starttls` (default; required, no fallback to plain \
                 text) or `tls` (TLS from the first byte, usually port 465). TLS needs ura \
                 built with the `tls` feature.",
            ),
            (
                "username",
                OptStr,
                "The login, when the server asks for one.",
            ),
            (
                "from",
                Str,
                "The sender: `chat@example.com` or `Name <chat@example.com>`.",
            ),
        ],
    }
}

/// The component name of a kind's objects (`Number`, `Ivr`, …).
fn schema_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Numbers => "Number",
        Kind::Schedules => "Schedule",
        Kind::Services => "Service",
        Kind::Ivrs => "Ivr",
        Kind::Queues => "Queue",
        Kind::Agents => "Agent",
        Kind::Channels => "Channel",
        Kind::Smtp => "Smtp",
    }
}

fn reference(name: &str) -> RefOr<Schema> {
    RefOr::Ref(utoipa::openapi::Ref::from_schema_name(name))
}

/// A kind's object as sent and as answered: the file's fields, the
/// read-only `id`/`company`/`version`/`updated_at`, and (agents) the
/// `password` (shown only when ura made it) and the read-only `password_set`.
fn object_schema(kind: Kind) -> Schema {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(format!(
            "A {} (`[{}]` in the configuration file). Other fields of the file's table are \
             taken as the file takes them; the engine checks every value.",
            kind.singular(),
            kind.as_str()
        )))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)));
    for (name, t, description) in fields(kind) {
        b = b.property(name, ty(t, description));
    }
    let read_only = |t: Type, d: &str| {
        ObjectBuilder::new()
            .schema_type(t)
            .read_only(Some(true))
            .description(Some(d))
    };
    b = b
        .property(
            "id",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The id (unique per kind). Taken from the path on PUT; on POST from `id` \
                 (or, for a number, the number).",
                )),
        )
        .property(
            "company",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(
                    "The company it belongs to (a super-admin key may name one; a company key's \
                 own otherwise).",
                )),
        )
        .property(
            "version",
            read_only(Type::Integer, "Changes on every write; the ETag."),
        )
        .property(
            "updated_at",
            read_only(Type::String, "Last change, RFC 3339."),
        );
    if kind == Kind::Channels {
        b = b
            .property(
                "activation",
                read_only(
                    Type::Object,
                    "A web chat's `test_url` (the chat page, to try the channel) and `snippet` \
                     (the `<script>` to paste in a site); an omni channel's `inbound_url` (where \
                     the outside system POSTs messages) and `deliveries` (its delivery log); as \
                     paths on ura's HTTP address: put the address ura is reached at in front.",
                ),
            )
            .property(
                "state",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some(["connected", "disabled", "error"]))
                    .read_only(Some(true))
                    .description(Some(
                        "`error`: an omni channel whose webhook failed 3 attempts in a row \
                         (until one succeeds, or a restart).",
                    )),
            )
            .property(
                "state_reason",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .read_only(Some(true))
                    .description(Some("Why the channel is in error.")),
            )
            .property(
                "identity_secret",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .write_only(Some(true))
                    .min_length(Some(32))
                    .max_length(Some(512))
                    .description(Some(
                        "The secret the site's backend signs its logged-in visitors' identity \
                     tokens with (a JWT, HS256: `sub` the site's customer id, `exp` at most \
                     24 h ahead, optional `name`, `email`, `phone`), passed to the widget as \
                     `data-ura-identity`. Never shown again (`identity_secret_set` says \
                     whether there is one); a PUT or PATCH without it keeps it, `\"\"` or \
                     null removes it. Absent: every visitor is anonymous and a token is \
                     refused.",
                    )),
            )
            .property(
                "identity_secret_set",
                read_only(Type::Boolean, "Whether the channel has an identity secret."),
            );
    }
    if kind == Kind::Smtp {
        b = b
            .property(
                "password",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .write_only(Some(true))
                    .description(Some(
                        "The login's password: taken when sent, never shown (not in \
                         answers, nor in the export). A replace (PUT) without it keeps \
                         the one it has.",
                    )),
            )
            .property(
                "password_set",
                read_only(Type::Boolean, "Whether a password is kept."),
            );
    }
    if kind == Kind::Agents {
        b = b
            .property(
                "password",
                ObjectBuilder::new()
                    .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                    .description(Some(
                        "SIP password, taken when sent and never shown again; only one made \
                         by ura (the agent had none) is in the answer to the request that \
                         made it. Not `writeOnly`, for that answer.",
                    )),
            )
            .property(
                "password_set",
                read_only(Type::Boolean, "Whether the agent has a password."),
            );
    }
    b.build().into()
}

fn object(props: &[(&str, Ty, &str)], description: &str) -> ObjectBuilder {
    let mut b = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some(description));
    for (name, t, d) in props {
        b = b.property(*name, ty(*t, d));
    }
    b
}

/// `{items, total, limit, offset}` of `item`.
fn page_of(item: RefOr<Schema>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("items", ArrayBuilder::new().items(item))
        .property("total", ty(Ty::Int, "Matches in all."))
        .property("limit", ty(Ty::Int, "Page size."))
        .property("offset", ty(Ty::Int, "Skipped."))
        .required("items")
        .required("total")
        .into()
}

fn error_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("Every refusal."))
        .property(
            "error",
            object(
                &[
                    ("code", Ty::Str, "Machine-readable: `invalid`, `not_found`, `exists`, `in_use`, `version_mismatch`, …"),
                    ("message", Ty::Str, "What is wrong, for people."),
                    ("field", Ty::Str, "The field refused (`weekly.mon[0]`), or empty."),
                ],
                "The refusal.",
            )
            .required("code")
            .required("message")
            .required("field"),
        )
        .required("error")
        .build()
        .into()
}

fn json(description: &str, schema: RefOr<Schema>) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content("application/json", Content::new(Some(schema)))
        .build()
}

fn with_etag(r: Response) -> Response {
    let mut r = r;
    r.headers.insert(
        "ETag".into(),
        HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(
                "The object's version, quoted; send it back in If-Match.",
            ))
            .build(),
    );
    r
}

fn error_response(status: u16) -> Response {
    let description = match status {
        400 => "Malformed JSON.",
        401 => "No key, or one that is unknown or revoked.",
        403 => "This key may not do this.",
        404 => "Nothing there (or nothing this key may see).",
        409 => "Conflicts with what is stored (a taken id, an object still in use, file mode).",
        412 => "If-Match names a version that is no longer the stored one.",
        413 => "The body is too large.",
        415 => "The body is not JSON.",
        422 => "A value is refused; `field` names it.",
        503 => "ura is stopping, or the change was saved but not applied.",
        _ => "Refused.",
    };
    json(description, reference("Error"))
}

fn no_content(description: &str) -> Response {
    ResponseBuilder::new().description(description).build()
}

fn path_param(name: &str, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(description))
        .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
        .build()
}

fn query_param(name: &str, schema: ObjectBuilder, description: &str) -> Parameter {
    ParameterBuilder::new()
        .name(name)
        .parameter_in(ParameterIn::Query)
        .required(Required::False)
        .description(Some(description))
        .schema(Some(schema))
        .build()
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn date_time() -> ObjectBuilder {
    string().format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
        utoipa::openapi::KnownFormat::DateTime,
    )))
}

fn integer(min: i64, max: Option<i64>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(min))
        .maximum(max)
}

fn list_params(max: i64) -> Vec<Parameter> {
    vec![
        query_param("q", string(), "Part of the id or name, any case."),
        query_param(
            "limit",
            integer(1, Some(max)),
            "At most this many (default 50).",
        ),
        query_param("offset", integer(0, Some(i64::MAX)), "Skip this many."),
    ]
}

fn if_match() -> Parameter {
    ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Change only if the stored version is this ETag (`*`, weak tags and lists taken).",
        ))
        .schema(Some(string()))
        .build()
}

fn json_body(schema: RefOr<Schema>, required: bool) -> utoipa::openapi::request_body::RequestBody {
    RequestBodyBuilder::new()
        .required(Some(if required {
            Required::True
        } else {
            Required::False
        }))
        .content("application/json", Content::new(Some(schema)))
        .build()
}

/// An operation: tag, id, summary, and the errors every authenticated
/// request may get (401) plus `errors`.
fn op(tag: &str, id: &str, summary: &str, errors: &[u16]) -> OperationBuilder {
    let mut b = OperationBuilder::new()
        .tag(tag)
        .operation_id(Some(id))
        .summary(Some(summary));
    let mut all = vec![401];
    all.extend_from_slice(errors);
    all.sort_unstable();
    all.dedup();
    for status in all {
        b = b.response(status.to_string(), error_response(status));
    }
    b
}

/// A delivery log's query (`status`, `before`, `limit`) and its page
/// (`items`, see WebhookDelivery; `next_before`), on `operation`.
fn delivery_log(operation: OperationBuilder) -> OperationBuilder {
    operation
        .parameter(query_param(
            "status",
            string().enum_values(Some(["pending", "delivered", "failed", "dropped"])),
            "Only deliveries in this state.",
        ))
        .parameter(query_param(
            "before",
            integer(i64::MIN, None),
            "Only deliveries made before this (`next_before` of the last page).",
        ))
        .parameter(query_param(
            "limit",
            integer(1, Some(500)),
            "At most this many (default 50).",
        ))
        .response(
            "200",
            json(
                "A page of the log.",
                object(
                    &[
                        ("items", Ty::Any, "Deliveries (see WebhookDelivery)."),
                        (
                            "next_before",
                            Ty::OptInt,
                            "Pass as `before` for the next page; null at the end.",
                        ),
                    ],
                    "A page of deliveries.",
                )
                .into(),
            ),
        )
}

/// Every route and method of `/api/v1`, documented.
pub fn operations() -> Vec<Op> {
    let mut ops = Vec::new();
    let mut add = |method: HttpMethod, path: &str, operation: OperationBuilder| {
        ops.push(Op {
            method,
            path: path.to_string(),
            operation: operation.build(),
        })
    };
    for kind in Kind::ALL {
        let k = kind.as_str();
        let one = kind.singular();
        let obj = || reference(schema_name(kind));
        let list_path = format!("/api/v1/{k}");
        let one_path = format!("/api/v1/{k}/{{id}}");
        let id = || path_param("id", "The object's id.");
        let mut list = op(k, &format!("list_{k}"), &format!("List {k}"), &[422])
            .response("200", json("A page, ordered by id.", page_of(obj())));
        for p in list_params(500) {
            list = list.parameter(p);
        }
        list = list.parameter(query_param(
            "company",
            string(),
            "Only this company's (super-admin keys).",
        ));
        add(HttpMethod::Get, &list_path, list);
        let created = || {
            let mut r = with_etag(json("Created.", obj()));
            r.headers.insert(
                "Location".into(),
                HeaderBuilder::new()
                    .schema(string())
                    .description(Some("Where it is."))
                    .build(),
            );
            r
        };
        add(
            HttpMethod::Post,
            &list_path,
            op(
                k,
                &format!("create_{k}"),
                &format!("Create a {one}"),
                &[400, 403, 409, 413, 415, 422, 503],
            )
            .request_body(Some(json_body(obj(), true)))
            .response("201", created()),
        );
        add(
            HttpMethod::Get,
            &one_path,
            op(k, &format!("get_{k}"), &format!("Get a {one}"), &[404])
                .parameter(id())
                .response("200", with_etag(json(&format!("The {one}."), obj()))),
        );
        let write = [400, 403, 404, 409, 412, 413, 415, 422, 503];
        add(
            HttpMethod::Put,
            &one_path,
            op(
                k,
                &format!("replace_{k}"),
                &format!("Replace (or create) a {one}"),
                &write,
            )
            .parameter(id())
            .parameter(if_match())
            .request_body(Some(json_body(obj(), true)))
            .response("200", with_etag(json("Replaced.", obj())))
            .response("201", created()),
        );
        add(
            HttpMethod::Patch,
            &one_path,
            op(
                k,
                &format!("patch_{k}"),
                &format!("Change fields of a {one} (JSON merge patch, RFC 7396)"),
                &write,
            )
            .parameter(id())
            .parameter(if_match())
            .request_body(Some(
                RequestBodyBuilder::new()
                    .required(Some(Required::True))
                    .content("application/merge-patch+json", Content::new(Some(obj())))
                    .content("application/json", Content::new(Some(obj())))
                    .build(),
            ))
            .response("200", with_etag(json("Changed.", obj()))),
        );
        add(
            HttpMethod::Delete,
            &one_path,
            op(
                k,
                &format!("delete_{k}"),
                &format!("Delete a {one}"),
                &[403, 404, 409, 412, 503],
            )
            .parameter(id())
            .parameter(if_match())
            .response("204", no_content("Deleted.")),
        );
    }
    add(
        HttpMethod::Get,
        "/api/v1/schedules/{id}/check",
        op(
            "schedules",
            "check_schedule",
            "Whether a schedule is open at a time",
            &[404, 422],
        )
        .parameter(path_param("id", "The schedule's id."))
        .parameter(query_param("at", date_time(), "RFC 3339; now when absent."))
        .response(
            "200",
            json(
                "Open or closed then, and the next change.",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("schedule", ty(Ty::Str, "The schedule's id."))
                    .property("open", ty(Ty::Bool, "Open at that time."))
                    .into(),
            ),
        ),
    );

    // Companies.
    let company = || reference("Company");
    let mut list = op("companies", "list_companies", "List companies", &[422])
        .response("200", json("A page.", page_of(company())));
    for p in list_params(500) {
        list = list.parameter(p);
    }
    add(HttpMethod::Get, "/api/v1/companies", list);
    add(
        HttpMethod::Post,
        "/api/v1/companies",
        op(
            "companies",
            "create_company",
            "Create a company (super-admin)",
            &[400, 403, 409, 413, 415, 422, 503],
        )
        .request_body(Some(json_body(
            object(
                &[
                    ("id", Ty::Str, "Its id."),
                    ("name", Ty::Str, "Its name, 1 to 200 characters."),
                ],
                "A new company.",
            )
            .required("id")
            .into(),
            true,
        )))
        .response("201", json("Created.", company())),
    );
    let company_id = || path_param("id", "The company's id.");
    add(
        HttpMethod::Get,
        "/api/v1/companies/{id}",
        op("companies", "get_company", "Get a company", &[404])
            .parameter(company_id())
            .response("200", json("The company.", company())),
    );
    add(
        HttpMethod::Delete,
        "/api/v1/companies/{id}",
        op(
            "companies",
            "delete_company",
            "Delete a company with nothing in it (super-admin)",
            &[403, 404, 409, 503],
        )
        .parameter(company_id())
        .response("204", no_content("Deleted.")),
    );

    // API keys.
    let key = || reference("ApiKey");
    add(
        HttpMethod::Get,
        "/api/v1/apikeys",
        op(
            "apikeys",
            "list_apikeys",
            "List API keys (never the keys themselves)",
            &[],
        )
        .response("200", json("Every key this key may see.", page_of(key()))),
    );
    add(
        HttpMethod::Post,
        "/api/v1/apikeys",
        op(
            "apikeys",
            "create_apikey",
            "Make an API key",
            &[400, 403, 413, 415, 422],
        )
        .request_body(Some(json_body(
            object(
                &[
                    ("name", Ty::Str, "What it is for, 1 to 100 characters."),
                    (
                        "company",
                        Ty::OptStr,
                        "Its company (super-admin keys; none: a super-admin key).",
                    ),
                ],
                "A new key.",
            )
            .required("name")
            .into(),
            true,
        )))
        .response(
            "201",
            json(
                "The key, shown this once.",
                object(
                    &[
                        (
                            "key",
                            Ty::Str,
                            "The key: send it as `Authorization: Bearer KEY`.",
                        ),
                        ("prefix", Ty::Str, "Its first characters, which name it."),
                        ("name", Ty::Str, "What it is for."),
                        (
                            "company",
                            Ty::OptStr,
                            "Its company; null for a super-admin key.",
                        ),
                        ("created_at", Ty::Str, "RFC 3339."),
                    ],
                    "A new key.",
                )
                .into(),
            ),
        ),
    );
    add(
        HttpMethod::Delete,
        "/api/v1/apikeys/{prefix}",
        op("apikeys", "revoke_apikey", "Revoke an API key", &[403, 404])
            .parameter(path_param("prefix", "The key's prefix."))
            .response("204", no_content("Revoked.")),
    );

    // Webhooks.
    let webhook = || reference("Webhook");
    let webhook_fields = || {
        object(
            &[
                ("url", Ty::Str, "Where events are POSTed (http://, or https:// with the `tls` feature)."),
                ("events", Ty::StrList, "Event types: call.started, call.answered, call.ended, ivr.option_selected, queue.entered, queue.left, agent.state, ping; or [\"*\"]."),
                ("description", Ty::Str, "A note for people, at most 200 characters."),
                ("enabled", Ty::Bool, "Whether it gets events (default true)."),
                ("secret", Ty::Str, "The signing key, 16 to 200 printable characters (default: one ura makes, shown once)."),
                ("company", Ty::OptStr, "Its company (super-admin keys; null: every company's events)."),
            ],
            "A webhook's fields.",
        )
    };
    let mut list = op("webhooks", "list_webhooks", "List webhooks", &[422])
        .response("200", json("A page.", page_of(webhook())));
    for p in list_params(500) {
        list = list.parameter(p);
    }
    list = list.parameter(query_param(
        "company",
        string(),
        "Only this company's (super-admin keys).",
    ));
    add(HttpMethod::Get, "/api/v1/webhooks", list);
    add(
        HttpMethod::Post,
        "/api/v1/webhooks",
        op(
            "webhooks",
            "create_webhook",
            "Make a webhook (its secret is shown this once)",
            &[400, 403, 413, 415, 422],
        )
        .request_body(Some(json_body(
            webhook_fields().required("url").required("events").into(),
            true,
        )))
        .response(
            "201",
            json("Made; `secret` is in this answer only.", webhook()),
        ),
    );
    let webhook_id = || path_param("id", "The webhook's id.");
    add(
        HttpMethod::Get,
        "/api/v1/webhooks/{id}",
        op("webhooks", "get_webhook", "Get a webhook", &[404])
            .parameter(webhook_id())
            .response("200", json("The webhook.", webhook())),
    );
    add(
        HttpMethod::Patch,
        "/api/v1/webhooks/{id}",
        op(
            "webhooks",
            "update_webhook",
            "Change a webhook's fields",
            &[400, 404, 413, 415, 422],
        )
        .parameter(webhook_id())
        .request_body(Some(json_body(webhook_fields().into(), true)))
        .response("200", json("The webhook.", webhook())),
    );
    add(
        HttpMethod::Delete,
        "/api/v1/webhooks/{id}",
        op(
            "webhooks",
            "delete_webhook",
            "Delete a webhook (its pending deliveries are dropped)",
            &[404],
        )
        .parameter(webhook_id())
        .response("204", no_content("Deleted.")),
    );
    add(
        HttpMethod::Get,
        "/api/v1/webhooks/{id}/deliveries",
        delivery_log(
            op(
                "webhooks",
                "list_webhook_deliveries",
                "A webhook's delivery log, newest first",
                &[404, 422],
            )
            .parameter(webhook_id()),
        ),
    );
    add(
        HttpMethod::Post,
        "/api/v1/webhooks/{id}/ping",
        op(
            "webhooks",
            "ping_webhook",
            "Send a test event (`ping`) to a webhook",
            &[404, 503],
        )
        .parameter(webhook_id())
        .response(
            "202",
            json(
                "Queued; follow it in the delivery log.",
                object(
                    &[("delivery", Ty::Str, "The delivery's id.")],
                    "A queued delivery.",
                )
                .into(),
            ),
        ),
    );

    // A channel's restart and delivery log.
    let channel_id = || path_param("id", "The channel's id.");
    add(
        HttpMethod::Post,
        "/api/v1/channels/{id}/restart",
        op(
            "channels",
            "restart_channel",
            "Restart a channel: its error is cleared and what waits for its webhook is sent now",
            &[404],
        )
        .parameter(channel_id())
        .response(
            "200",
            json(
                "The channel's state now.",
                object(
                    &[
                        ("state", Ty::Str, "`connected`, `disabled` or `error`."),
                        ("state_reason", Ty::OptStr, "Why, in error."),
                        ("retried", Ty::Int, "Deliveries that were waiting."),
                    ],
                    "A restarted channel.",
                )
                .into(),
            ),
        ),
    );
    add(
        HttpMethod::Get,
        "/api/v1/channels/{id}/deliveries",
        delivery_log(
            op(
                "channels",
                "list_channel_deliveries",
                "An omni channel's delivery log (messages to its webhook), newest first",
                &[404, 422],
            )
            .parameter(channel_id()),
        ),
    );
    add(
        HttpMethod::Delete,
        "/api/v1/channels",
        op(
            "channels",
            "delete_many_channels",
            "Delete several channels (none while one has an open conversation: 409 naming them)",
            &[404, 409, 422],
        )
        .parameter(query_param(
            "ids",
            string(),
            "The channels' ids, separated by commas (at most 100).",
        ))
        .response(
            "200",
            json(
                "Deleted.",
                object(
                    &[("deleted", Ty::StrList, "The ids deleted.")],
                    "Channels deleted.",
                )
                .into(),
            ),
        ),
    );
    // The omni channel's way in: the channel's key, not an API key.
    add(
        HttpMethod::Post,
        "/omni/{channel}/messages",
        op(
            "channels",
            "omni_message",
            "An outside system's customer writes (or leaves) in an omni channel",
            &[400, 404, 409, 413, 429, 503],
        )
        .description(Some(
            "`Authorization: Bearer KEY` with the channel's `omni.key`. A message to a \
             conversation id with no open conversation starts one (the channel's menu, \
             then its queue); what the customer is to see goes to the channel's webhook. \
             A `message_id` sent again is not added again (`duplicate`). 409: the \
             conversation ended or the channel is disabled; 429: too many messages at \
             once (send it again later); 503: busy, send it again with the same \
             `message_id`.",
        ))
        .security(SecurityRequirement::new(
            "channel_key",
            Vec::<String>::new(),
        ))
        .parameter(path_param("channel", "The omni channel's id."))
        .request_body(Some(json_body(
            object(
                &[
                    (
                        "conversation",
                        Ty::Str,
                        "The outside system's id of the conversation (1 to 200 characters).",
                    ),
                    ("type", Ty::Str, "`message` (default) or `close`."),
                    ("text", Ty::OptStr, "The customer's text (a message's)."),
                    (
                        "message_id",
                        Ty::OptStr,
                        "The outside system's id of the message (at most 64 bytes).",
                    ),
                    (
                        "customer",
                        Ty::Obj,
                        "`id`, `name`, `email`, `phone`, `document`: shown to the agent \
                         (read when the conversation starts).",
                    ),
                ],
                "A customer's message.",
            )
            .required("conversation")
            .into(),
            true,
        )))
        .response(
            "202",
            json(
                "Taken by the conversation.",
                object(
                    &[
                        ("conversation", Ty::Str, "The outside system's id."),
                        ("seq", Ty::Int, "The message's number in the conversation."),
                        ("duplicate", Ty::Bool, "Sent before: not added again."),
                    ],
                    "A message taken.",
                )
                .into(),
            ),
        ),
    );

    let conversation_param = || {
        query_param(
            "conversation",
            string(),
            "The outside system's id of an open conversation.",
        )
    };
    add(
        HttpMethod::Post,
        "/omni/{channel}/attachments",
        op(
            "channels",
            "omni_attachment",
            "An outside system's customer sends a file in an open omni conversation",
            &[400, 404, 409, 411, 413, 415, 422, 429, 503, 507],
        )
        .description(Some(
            "`Authorization: Bearer KEY` with the channel's `omni.key`; the body is the \
             file, with its `Content-Type` and `Content-Length`; `X-Ura-Name` (percent-\
             encoded) names it and `X-Ura-Client-Id` makes sending it again harmless. The \
             channel's attachment rules apply (size, types, and the content must be of \
             the type declared: 422). A file does not start a conversation: 404 until a \
             message did.",
        ))
        .security(SecurityRequirement::new(
            "channel_key",
            Vec::<String>::new(),
        ))
        .parameter(path_param("channel", "The omni channel's id."))
        .parameter(conversation_param())
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "application/octet-stream",
                    Content::new(Some(string().description(Some("The file's bytes.")))),
                )
                .build(),
        ))
        .response(
            "201",
            json(
                "Taken: a message of the conversation.",
                object(
                    &[
                        ("seq", Ty::Int, "The message's number in the conversation."),
                        (
                            "attachment",
                            Ty::Obj,
                            "`id`, `name`, `type`, `size` of the file.",
                        ),
                    ],
                    "A file taken.",
                )
                .into(),
            ),
        ),
    );
    add(
        HttpMethod::Get,
        "/omni/{channel}/attachments/{id}",
        op(
            "channels",
            "omni_attachment_file",
            "A file of an open omni conversation (the agent's, from a webhook message's `attachment.url`)",
            &[400, 403, 404, 503],
        )
        .description(Some(
            "`Authorization: Bearer KEY` with the channel's `omni.key`. Served as an \
             attachment, with its own type; files go when their conversation ends.",
        ))
        .security(SecurityRequirement::new(
            "channel_key",
            Vec::<String>::new(),
        ))
        .parameter(path_param("channel", "The omni channel's id."))
        .parameter(path_param("id", "The file's id."))
        .parameter(conversation_param())
        .response(
            "200",
            ResponseBuilder::new()
                .description("The file.")
                .content("application/octet-stream", Content::new(Some(string())))
                .build(),
        ),
    );

    // The whole configuration.
    add(
        HttpMethod::Get,
        "/api/v1/config",
        op(
            "config",
            "export_config",
            "The whole configuration (the file's shape, as JSON)",
            &[],
        )
        .response(
            "200",
            json("The configuration this key may see.", reference("Config")),
        ),
    );
    add(
        HttpMethod::Put,
        "/api/v1/config",
        op(
            "config",
            "import_config",
            "Replace the whole configuration (super-admin; all or nothing)",
            &[400, 403, 409, 413, 415, 422, 503],
        )
        .request_body(Some(json_body(reference("Config"), true)))
        .response(
            "200",
            json(
                "Imported.",
                object(
                    &[("objects", Ty::Int, "Objects now configured.")],
                    "The count.",
                )
                .into(),
            ),
        ),
    );
    add(
        HttpMethod::Get,
        "/api/v1/live",
        op(
            "live",
            "live",
            "Calls and chats waiting per queue, agents with state and open chats, service level",
            &[503],
        )
        .response(
            "200",
            json(
                "The live view.",
                object(
                    &[
                        (
                            "queues",
                            Ty::Obj,
                            "Per queue: `waiting`, the calls and chats waiting in order (`task`, \
                             `channel` `voice` or `chat`, `position`, `waited_s`, `ringing`; a chat \
                             also `conversation` and `chat_channel`); `after_hours`, the \
                             conversations kept out of hours for it (`conversation`, \
                             `chat_channel`, `opens_at_ms`); members, counters and the service level.",
                        ),
                        (
                            "agents",
                            Ty::Any,
                            "Agents: `agent`, `state` (calls and chats share it), counters, and \
                             the chats they have open (`chats_open`, `chats`: conversation ids).",
                        ),
                    ],
                    "What is happening now.",
                )
                .into(),
            ),
        ),
    );
    add(
        HttpMethod::Post,
        "/api/v1/agents/{ext}/{action}",
        op(
            "agents",
            "agent_action",
            "Log an agent in or out, pause (with a reason) or resume",
            &[400, 404, 409, 422],
        )
        .parameter(path_param("ext", "The agent's extension."))
        .parameter(
            ParameterBuilder::new()
                .name("action")
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .schema(Some(
                    string().enum_values(Some(["login", "logout", "pause", "resume"])),
                ))
                .build(),
        )
        .request_body(Some(json_body(
            object(
                &[("reason", Ty::Str, "Why the pause (at most 64 characters).")],
                "Only for pause; optional.",
            )
            .into(),
            false,
        )))
        .response(
            "200",
            json(
                "Done.",
                object(
                    &[
                        ("agent", Ty::Str, "The extension."),
                        ("done", Ty::Str, "The action."),
                    ],
                    "Done.",
                )
                .into(),
            ),
        ),
    );

    // Call records.
    let call_params = || {
        vec![
            query_param("from", date_time(), "Started at or after (RFC 3339)."),
            query_param("to", date_time(), "Started before (RFC 3339)."),
            query_param("number", string(), "Number dialled, any of its forms."),
            query_param("service", string(), "Service chosen."),
            query_param("agent", string(), "Agent who took it."),
            query_param("outcome", string(), "How it ended or left its queue."),
            query_param(
                "limit",
                integer(1, Some(1000)),
                "At most this many (default 50).",
            ),
            query_param(
                "before",
                integer(i64::MIN, None),
                "The `next` of the previous page.",
            ),
        ]
    };
    let mut calls = op("calls", "list_calls", "Call records, newest first", &[422]).response(
        "200",
        json(
            "A page of call records.",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("items", ArrayBuilder::new().items(reference("Call")))
                .property(
                    "next",
                    ty(
                        Ty::OptInt,
                        "Pass as `before` for the next page; null at the end.",
                    ),
                )
                .required("items")
                .into(),
        ),
    );
    for p in call_params() {
        calls = calls.parameter(p);
    }
    add(HttpMethod::Get, "/api/v1/calls", calls);
    let mut csv = op(
        "calls",
        "calls_csv",
        "Every matching call record, as CSV",
        &[422],
    )
    .response(
        "200",
        ResponseBuilder::new()
            .description("CSV with a header line, streamed.")
            .content("text/csv", Content::new(Some(string())))
            .build(),
    );
    for p in call_params() {
        csv = csv.parameter(p);
    }
    add(HttpMethod::Get, "/api/v1/calls.csv", csv);

    // Web chat conversations.
    let chats = op(
        "chats",
        "list_chats",
        "Ended web chat conversations (transcripts), newest first",
        &[422],
    )
    .response(
        "200",
        json(
            "A page of conversations.",
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "items",
                    ArrayBuilder::new().items(object(
                        &[
                            ("id", Ty::Str, "The conversation's id."),
                            ("channel", Ty::Str, "The channel."),
                            ("started_at", Ty::Str, "RFC 3339."),
                            ("ended_at", Ty::Str, "RFC 3339."),
                            ("visitor", Ty::Obj, "The pre-chat form's fields."),
                            ("queue", Ty::OptStr, "The queue it waited in."),
                            ("agent", Ty::OptStr, "The last agent's extension."),
                            (
                                "outcome",
                                Ty::Str,
                                "Who ended it: agent, visitor, flow (hours, no agent, menu), system.",
                            ),
                            (
                                "messages",
                                Ty::Any,
                                "Every message: `{seq, from (visitor, agent, system), name, text, at}`; \
                                 a file sent also has `attachment: {id, name, type, size}` (its \
                                 text is the name; the bytes go when the conversation ends).",
                            ),
                            (
                                "customer",
                                Ty::OptStr,
                                "Who it was with: `CHANNEL:sub` for a visitor the site \
                                 identified (the same in all their conversations), `anon-…` \
                                 for an anonymous one (one per conversation); null for \
                                 conversations kept before customers were.",
                            ),
                            (
                                "rating",
                                Ty::OptInt,
                                "The visitor's satisfaction score, 1 to 5 (null: not rated).",
                            ),
                            (
                                "rating_comment",
                                Ty::OptStr,
                                "The visitor's comment with the rating.",
                            ),
                            ("rated_at", Ty::OptStr, "When it was rated, RFC 3339."),
                        ],
                        "An ended conversation.",
                    )),
                )
                .property(
                    "next",
                    ty(
                        Ty::OptStr,
                        "Pass as `before` for the next page; null at the end.",
                    ),
                )
                .required("items")
                .into(),
        ),
    )
    .parameter(query_param(
        "channel",
        ObjectBuilder::new().schema_type(Type::String),
        "Only this channel's.",
    ))
    .parameter(query_param(
        "agent",
        ObjectBuilder::new().schema_type(Type::String),
        "Only this agent's (extension).",
    ))
    .parameter(query_param(
        "customer",
        ObjectBuilder::new().schema_type(Type::String),
        "Only this customer's (`CHANNEL:sub`, or an anonymous visitor's `anon-…`).",
    ))
    .parameter(query_param(
        "before",
        ObjectBuilder::new().schema_type(Type::String),
        "Started before this (RFC 3339): the `next` of the previous page.",
    ))
    .parameter(query_param(
        "limit",
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(1))
            .maximum(Some(500)),
        "At most this many (default 50).",
    ));
    add(HttpMethod::Get, "/api/v1/chats", chats);

    // Prompts.
    let prompt = || reference("Prompt");
    let mut prompts = op("prompts", "list_prompts", "List prompts", &[422])
        .response("200", json("A page.", page_of(prompt())));
    for p in list_params(500) {
        prompts = prompts.parameter(p);
    }
    add(HttpMethod::Get, "/api/v1/prompts", prompts);
    add(
        HttpMethod::Post,
        "/api/v1/prompts",
        op(
            "prompts",
            "create_prompt",
            "Upload a prompt (mp3 or wav) or speak one from text",
            &[400, 403, 409, 413, 415, 422, 503],
        )
        .parameter(query_param(
            "replace",
            ObjectBuilder::new().schema_type(Type::Boolean),
            "Replace a prompt of the same name.",
        ))
        .request_body(Some(
            RequestBodyBuilder::new()
                .required(Some(Required::True))
                .content(
                    "multipart/form-data",
                    Content::new(Some(
                        object(
                            &[
                                ("name", Ty::Str, "1-64 letters, digits, `-`, `_`, `.`."),
                                ("language", Ty::Str, "Language tag (`pt-BR`)."),
                            ],
                            "An upload (at most 20 MiB).",
                        )
                        .property(
                            "file",
                            string()
                                .content_media_type("application/octet-stream")
                                .description(Some("The mp3 or wav file.")),
                        )
                        .required("name")
                        .required("file"),
                    )),
                )
                .content(
                    "application/json",
                    Content::new(Some(
                        object(
                            &[
                                ("name", Ty::Str, "1-64 letters, digits, `-`, `_`, `.`."),
                                ("text", Ty::Str, "What to say."),
                                ("voice", Ty::Str, "A voice of `GET /api/v1/voices`."),
                                ("rate", Ty::Int, "Words per minute."),
                                ("language", Ty::Str, "Language tag."),
                            ],
                            "Text to speech.",
                        )
                        .required("name")
                        .required("text"),
                    )),
                )
                .build(),
        ))
        .response("201", json("Made.", prompt())),
    );
    let name = || path_param("name", "The prompt's name.");
    add(
        HttpMethod::Get,
        "/api/v1/prompts/{name}",
        op("prompts", "get_prompt", "Get a prompt", &[404])
            .parameter(name())
            .response("200", json("The prompt.", prompt())),
    );
    add(
        HttpMethod::Delete,
        "/api/v1/prompts/{name}",
        op(
            "prompts",
            "delete_prompt",
            "Delete a prompt no IVR or queue uses",
            &[403, 404, 409, 503],
        )
        .parameter(name())
        .response("204", no_content("Deleted.")),
    );
    add(
        HttpMethod::Get,
        "/api/v1/prompts/{name}/original",
        op(
            "prompts",
            "prompt_original",
            "The file as uploaded (or synthesized)",
            &[404],
        )
        .parameter(name())
        .response(
            "200",
            ResponseBuilder::new()
                .description("The file.")
                .content("audio/mpeg", Content::new(Some(string())))
                .content("audio/wav", Content::new(Some(string())))
                .build(),
        ),
    );
    add(
        HttpMethod::Get,
        "/api/v1/prompts/{name}/audio.wav",
        op(
            "prompts",
            "prompt_audio",
            "The audio callers hear (8 kHz WAV)",
            &[404],
        )
        .parameter(name())
        .response(
            "200",
            ResponseBuilder::new()
                .description("8 kHz mono WAV.")
                .content("audio/wav", Content::new(Some(string())))
                .build(),
        ),
    );
    add(
        HttpMethod::Get,
        "/api/v1/voices",
        op("prompts", "voices", "The voices for text to speech", &[]).response(
            "200",
            json(
                "The voices.",
                ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("items", ArrayBuilder::new().items(ty(Ty::Any, "A voice.")))
                    .required("items")
                    .into(),
            ),
        ),
    );
    ops
}

/// The document, built from [`operations`].
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for op in operations() {
        let item = PathItem::new(op.method, op.operation);
        match paths.paths.get_mut(&op.path) {
            Some(existing) => existing.merge_operations(item),
            None => {
                paths.paths.insert(op.path, item);
            }
        }
    }
    let mut components = ComponentsBuilder::new()
        .schema("Error", error_schema())
        .security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An API key: `DATA_DIR/api-key` (made at the first start), or one of \
                         `ura apikey create`.",
                    ))
                    .build(),
            ),
        )
        .security_scheme(
            "channel_key",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An omni channel's `omni.key` (for the `/omni/{channel}/…` operations only).",
                    ))
                    .build(),
            ),
        );
    for kind in Kind::ALL {
        components = components.schema(schema_name(kind), object_schema(kind));
    }
    let map_of = |kind: Kind| -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(format!("{} by id.", kind.as_str())))
            .additional_properties(Some(reference(schema_name(kind))))
            .into()
    };
    let mut config = ObjectBuilder::new()
        .schema_type(Type::Object)
        .description(Some("The configuration file's shape, as JSON."))
        .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
        .property(
            "numbers",
            ArrayBuilder::new().items(reference(schema_name(Kind::Numbers))),
        );
    for kind in &Kind::ALL[1..] {
        config = config.property(kind.as_str(), map_of(*kind));
    }
    components = components
        .schema("Config", config)
        .schema(
            "Company",
            object(
                &[
                    ("id", Ty::Str, "Its id."),
                    ("name", Ty::Str, "Its name."),
                    ("created_at", Ty::Str, "RFC 3339."),
                ],
                "A tenant: its keys see only its objects.",
            )
            .required("id"),
        )
        .schema(
            "Webhook",
            object(
                &[
                    ("id", Ty::Str, "Its id."),
                    ("company", Ty::OptStr, "Its company; null: every company's events."),
                    ("url", Ty::Str, "Where events are POSTed."),
                    ("events", Ty::StrList, "The event types it gets."),
                    ("description", Ty::Str, "A note for people."),
                    ("enabled", Ty::Bool, "Whether it gets events."),
                    ("secret_hint", Ty::Str, "The first characters of its secret."),
                    ("secret", Ty::Str, "The signing key (only when it was just made)."),
                    ("created_at", Ty::Str, "RFC 3339."),
                    ("updated_at", Ty::Str, "RFC 3339."),
                ],
                "A webhook: events POSTed as JSON, signed `Ura-Signature: t=UNIX,v1=HEX(HMAC-SHA256(secret, \"t.body\"))`, retried with backoff for 24 hours.",
            )
            .required("id"),
        )
        .schema(
            "WebhookDelivery",
            object(
                &[
                    ("id", Ty::Str, "Its id (the `Ura-Delivery` header)."),
                    ("event_id", Ty::Str, "The event's id (the same for every webhook)."),
                    ("event", Ty::Str, "The event type."),
                    ("status", Ty::Str, "pending, delivered, failed or dropped."),
                    ("attempts", Ty::Int, "Attempts made."),
                    ("created_at", Ty::Str, "When the event happened."),
                    ("next_attempt_at", Ty::OptStr, "When the next attempt is due."),
                    ("last_attempt_at", Ty::OptStr, "When the last attempt was made."),
                    ("last_code", Ty::OptInt, "The last HTTP status received."),
                    ("last_error", Ty::OptStr, "Why the last attempt failed."),
                    ("body", Ty::Any, "The JSON sent."),
                ],
                "One event for one webhook.",
            )
            .required("id"),
        )
        .schema(
            "ApiKey",
            object(
                &[
                    ("prefix", Ty::Str, "Its first characters, which name it."),
                    ("name", Ty::Str, "What it is for."),
                    ("company", Ty::OptStr, "Its company; null for a super-admin key."),
                    ("created_at", Ty::Str, "RFC 3339."),
                    ("revoked_at", Ty::OptStr, "When it was revoked."),
                ],
                "An API key (only a hash of the key is kept).",
            )
            .required("prefix"),
        )
        .schema(
            "Prompt",
            object(
                &[
                    ("name", Ty::Str, "Its name."),
                    ("company", Ty::Str, "Its company (empty: the installation's)."),
                    ("language", Ty::OptStr, "Language tag."),
                    ("duration_ms", Ty::Int, "Length of the audio."),
                    ("source", Ty::Any, "Where it came from (upload, tts, recording)."),
                    ("created_at", Ty::Any, "When it was made."),
                ],
                "A stored prompt. TTS prompts also carry `text`, `voice` and `rate`.",
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true)))
            .required("name"),
        )
        .schema(
            "Call",
            object(
                &[
                    ("id", Ty::Int, "The record's id."),
                    ("sip_call_id", Ty::Any, "SIP Call-ID."),
                    ("started_at", Ty::Any, "RFC 3339."),
                    ("answered_at", Ty::Any, "RFC 3339, or null."),
                    ("ended_at", Ty::Any, "RFC 3339, or null."),
                    ("caller", Ty::Any, "Who called."),
                    ("number", Ty::Any, "Number dialled, as dialled."),
                    ("schedule", Ty::Any, "Open or closed, when it was evaluated."),
                    ("digits", Ty::Any, "Keys pressed in the IVR."),
                    ("service", Ty::Any, "Service chosen."),
                    ("hangup_cause", Ty::Any, "Why it ended."),
                    ("hangup_side", Ty::Any, "Who hung up."),
                    ("queue", Ty::Any, "Its time in an agent queue (outcome, wait, agent, talk, hold, transfer, recording), or null."),
                ],
                "A call record.",
            )
            .additional_properties(Some(AdditionalProperties::<Schema>::FreeForm(true))),
        );
    let mut tags = vec![];
    for name in Kind::ALL.iter().map(|k| k.as_str()).chain([
        "companies",
        "apikeys",
        "config",
        "live",
        "calls",
        "chats",
        "prompts",
        "webhooks",
    ]) {
        tags.push(TagBuilder::new().name(name).build());
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("ura admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The configuration (numbers, schedules, services, IVRs, queues, agents), \
                     companies, API keys, prompts, call records and the live view of ura. Every \
                     request needs `Authorization: Bearer KEY`; every refusal is \
                     `{\"error\": {\"code\", \"message\", \"field\"}}`.",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .security(Some([SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]))
        .tags(Some(tags))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The `(METHOD, path)` pairs the router's modules route: each
    /// `.route(path, get(…).post(…)…)` call in their source, with the
    /// per-kind paths expanded over [`Kind::ALL`].
    fn routed() -> BTreeSet<(String, String)> {
        let sources = [
            include_str!("resources.rs"),
            include_str!("manage.rs"),
            include_str!("calls.rs"),
            include_str!("chats.rs"),
            include_str!("prompts.rs"),
            include_str!("webhooks.rs"),
            include_str!("channels.rs"),
            // Of the pages' routes (the main crate's), the omni channel's
            // way in is in this document.
            include_str!("../../src/web/mod.rs"),
        ];
        let mut out = BTreeSet::new();
        for src in sources {
            // Only the code before the tests.
            let src = src.split("#[cfg(test)]").next().unwrap_or(src);
            for (at, _) in src.match_indices(".route(") {
                let start = at + ".route(".len();
                // The call's arguments: up to the parenthesis that closes it.
                let mut depth = 1;
                let mut end = start;
                for (i, c) in src[start..].char_indices() {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    if depth == 0 {
                        end = start + i;
                        break;
                    }
                }
                let args = &src[start..end];
                let (first, rest) = args.split_once(',').expect("route(path, methods)");
                let first = first.trim();
                let paths: Vec<String> = if let Some(lit) = first.strip_prefix('"') {
                    vec![lit.trim_end_matches('"').to_string()]
                } else {
                    let var = first.trim_start_matches('&');
                    let template = match var {
                        "list_path" => "/api/v1/{kind}",
                        "one_path" => "/api/v1/{kind}/{id}",
                        other => panic!("a route path this test does not know: {other}"),
                    };
                    Kind::ALL
                        .iter()
                        .map(|k| template.replace("{kind}", k.as_str()))
                        .collect()
                };
                if paths
                    .iter()
                    .any(|p| !p.starts_with("/api/v1/") && !p.starts_with("/omni/"))
                {
                    continue;
                }
                let mut methods = Vec::new();
                for m in ["get", "post", "put", "patch", "delete"] {
                    let called = rest.trim_start().starts_with(&format!("{m}("))
                        || rest.contains(&format!("routing::{m}("))
                        || rest.contains(&format!(".{m}("));
                    if called {
                        methods.push(m.to_uppercase());
                    }
                }
                assert!(!methods.is_empty(), "no method in .route({args})");
                for p in &paths {
                    for m in &methods {
                        out.insert((m.clone(), p.clone()));
                    }
                }
            }
        }
        out
    }

    fn documented() -> BTreeSet<(String, String)> {
        let doc = serde_json::to_value(document()).unwrap();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, _) in item.as_object().unwrap() {
                out.insert((method.to_uppercase(), path.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_every_documented_operation_routed() {
        let routed = routed();
        assert!(routed.len() > 40, "found only {routed:?}");
        assert!(routed.contains(&("PATCH".into(), "/api/v1/agents/{id}".into())));
        assert!(routed.contains(&("DELETE".into(), "/api/v1/apikeys/{prefix}".into())));
        let documented = documented();
        let undocumented: Vec<_> = routed.difference(&documented).collect();
        assert!(
            undocumented.is_empty(),
            "routes without docs: {undocumented:?}"
        );
        let unrouted: Vec<_> = documented.difference(&routed).collect();
        assert!(
            unrouted.is_empty(),
            "documented but not routed: {unrouted:?}"
        );
    }

    #[test]
    fn the_document_is_openapi_3_1_with_bearer_keys_and_the_error_shape() {
        let doc = serde_json::to_value(document()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"][0]["bearer"], serde_json::json!([]));
        let err = &doc["components"]["schemas"]["Error"];
        assert_eq!(err["required"], serde_json::json!(["error"]));
        assert_eq!(
            err["properties"]["error"]["required"],
            serde_json::json!(["code", "message", "field"])
        );
        // Every operation: an id (unique), a summary, and a 401 with the error shape.
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_string()), "{id} twice");
                assert!(op["summary"].is_string(), "{method} {path}");
                assert_eq!(
                    op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/Error",
                    "{method} {path}"
                );
                // Every path parameter is declared.
                for name in path
                    .split('{')
                    .skip(1)
                    .map(|s| s.split('}').next().unwrap())
                {
                    let declared = op["parameters"].as_array().is_some_and(|ps| {
                        ps.iter().any(|p| p["name"] == name && p["in"] == "path")
                    });
                    assert!(declared, "{method} {path}: {name}");
                }
            }
        }
        // The object of a kind: read-only fields, ETag and If-Match.
        let number = &doc["components"]["schemas"]["Number"];
        assert_eq!(number["properties"]["version"]["readOnly"], true);
        assert_eq!(number["properties"]["ivr"]["type"], "string");
        let agent = &doc["components"]["schemas"]["Agent"];
        assert_eq!(agent["properties"]["password_set"]["readOnly"], true);
        assert!(agent["properties"]["password"]["description"]
            .as_str()
            .unwrap()
            .contains("never shown again"));
        let put = &doc["paths"]["/api/v1/ivrs/{id}"]["put"];
        assert!(put["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "If-Match" && p["in"] == "header"));
        assert!(put["responses"]["200"]["headers"]["ETag"].is_object());
        assert_eq!(
            put["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/Ivr"
        );
        // Every reference resolves.
        let text = doc.to_string();
        for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
            let name = r.split('"').next().unwrap();
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
    }
}
