//! What ura writes to visitors, in the channel's language: the text
//! versions of the IVR's built-in prompts, the menu ("Digite 1 para
//! vendas, 2 para suporte."), the queue position and the notices.

use ura_ivr::{BuiltinPrompt, MenuEntry};

use crate::config::ChatLanguage;

/// The built-in text for one of the IVR's built-in prompts.
pub fn builtin(lang: ChatLanguage, prompt: BuiltinPrompt) -> &'static str {
    use BuiltinPrompt as B;
    use ChatLanguage as L;
    match (lang, prompt) {
        (L::PtBr, B::Welcome) => "Olá! Bem-vindo ao nosso atendimento.",
        (L::En, B::Welcome) => "Hello! Welcome to our service.",
        (L::Es, B::Welcome) => "¡Hola! Bienvenido a nuestra atención.",
        (L::PtBr, B::Closed) => "No momento estamos fora do horário de atendimento.",
        (L::En, B::Closed) => "We are closed at the moment.",
        (L::Es, B::Closed) => "En este momento estamos fuera del horario de atención.",
        (L::PtBr, B::InvalidOption) => "Opção inválida.",
        (L::En, B::InvalidOption) => "That is not one of the options.",
        (L::Es, B::InvalidOption) => "Opción inválida.",
        (L::PtBr, B::NoInput) => "Não recebemos nenhuma opção.",
        (L::En, B::NoInput) => "We did not get an option.",
        (L::Es, B::NoInput) => "No recibimos ninguna opción.",
        (L::PtBr, B::NoAnswer) => {
            "No momento nenhum atendente está disponível. Tente novamente mais tarde."
        }
        (L::En, B::NoAnswer) => "No agent is available right now. Please try again later.",
        (L::Es, B::NoAnswer) => "En este momento no hay agentes disponibles. Inténtelo más tarde.",
        (L::PtBr, B::ServiceClosed) => "Este serviço está fora do horário de atendimento.",
        (L::En, B::ServiceClosed) => "This service is closed at the moment.",
        (L::Es, B::ServiceClosed) => "Este servicio está fuera del horario de atención.",
    }
}

/// "Abriremos segunda-feira às 8 horas."
pub fn next_opening(lang: ChatLanguage, words: &str) -> String {
    match lang {
        ChatLanguage::PtBr => format!("Atendimento a partir de {words}."),
        ChatLanguage::En => format!("We open {words}."),
        ChatLanguage::Es => format!("Atendemos a partir de {words}."),
    }
}

/// "Digite 1 para vendas, 2 para suporte." (and the operator key).
pub fn menu(lang: ChatLanguage, items: &[MenuEntry], operator_key: Option<char>) -> String {
    let (lead, each, operator) = match lang {
        ChatLanguage::PtBr => ("Digite", "para", "para falar com um atendente"),
        ChatLanguage::En => ("Type", "for", "to talk to an agent"),
        ChatLanguage::Es => ("Escriba", "para", "para hablar con un agente"),
    };
    let mut parts: Vec<String> = items
        .iter()
        .map(|i| format!("{} {each} {}", i.digits, i.label))
        .collect();
    if let Some(key) = operator_key {
        parts.push(format!("{key} {operator}"));
    }
    format!("{lead} {}.", parts.join(", "))
}

/// "Você é o 2º da fila." (the status line while waiting).
pub fn position(lang: ChatLanguage, position: usize) -> String {
    match (lang, position) {
        (ChatLanguage::PtBr, 1) => "Você é o próximo a ser atendido.".into(),
        (ChatLanguage::PtBr, n) => format!("Você é o {n}º da fila."),
        (ChatLanguage::En, 1) => "You are next in line.".into(),
        (ChatLanguage::En, n) => format!("You are number {n} in line."),
        (ChatLanguage::Es, 1) => "Usted es el próximo en ser atendido.".into(),
        (ChatLanguage::Es, n) => format!("Usted es el {n}º de la fila."),
    }
}

/// Said once when the conversation joins a queue.
pub fn waiting(lang: ChatLanguage) -> &'static str {
    match lang {
        ChatLanguage::PtBr => "Aguarde um momento: você será atendido em breve.",
        ChatLanguage::En => "Please wait: an agent will be with you shortly.",
        ChatLanguage::Es => "Espere un momento: pronto será atendido.",
    }
}

/// Said when a conversation that arrived out of hours is kept for when
/// its service opens.
pub fn kept(lang: ChatLanguage) -> &'static str {
    match lang {
        ChatLanguage::PtBr => {
            "Deixe sua mensagem: a conversa fica guardada e um atendente responde assim que abrirmos."
        }
        ChatLanguage::En => {
            "Leave your message: this conversation is kept and an agent will answer as soon as we open."
        }
        ChatLanguage::Es => {
            "Deje su mensaje: la conversación queda guardada y un agente responderá apenas abramos."
        }
    }
}

/// Said when an agent takes the conversation: "Você está sendo atendido
/// por Ana." (`agent` given) or without the name.
pub fn started(lang: ChatLanguage, agent: Option<&str>) -> String {
    match (lang, agent) {
        (ChatLanguage::PtBr, Some(a)) => format!("Você está sendo atendido por {a}."),
        (ChatLanguage::PtBr, None) => "Você está sendo atendido.".into(),
        (ChatLanguage::En, Some(a)) => format!("You are talking to {a}."),
        (ChatLanguage::En, None) => "An agent has joined the conversation.".into(),
        (ChatLanguage::Es, Some(a)) => format!("Usted está siendo atendido por {a}."),
        (ChatLanguage::Es, None) => "Usted está siendo atendido.".into(),
    }
}

/// Said when the agent transfers the conversation (seed 003's
/// `AVISO_TRANSFER`).
pub fn transferred(lang: ChatLanguage) -> &'static str {
    match lang {
        ChatLanguage::PtBr => "Você está sendo transferido. Aguarde um momento.",
        ChatLanguage::En => "You are being transferred. Please wait a moment.",
        ChatLanguage::Es => "Usted está siendo transferido. Espere un momento.",
    }
}

/// Said when the agent puts the conversation on hold (seed 003's
/// `AVISO_ESPERA`), and when they come back.
pub fn hold(lang: ChatLanguage, on: bool) -> &'static str {
    match (lang, on) {
        (ChatLanguage::PtBr, true) => "Você foi colocado em espera. Aguarde, por favor.",
        (ChatLanguage::PtBr, false) => "O atendente retomou a conversa.",
        (ChatLanguage::En, true) => "You have been put on hold. Please wait.",
        (ChatLanguage::En, false) => "The agent is back.",
        (ChatLanguage::Es, true) => "Usted fue puesto en espera. Aguarde, por favor.",
        (ChatLanguage::Es, false) => "El agente retomó la conversación.",
    }
}

/// The closing message when the channel sets none (seed 003's
/// `MSG_ENCERRAMENTO`).
pub fn closing(lang: ChatLanguage) -> &'static str {
    match lang {
        ChatLanguage::PtBr => {
            "Este atendimento foi finalizado. Qualquer dúvida, estamos à disposição."
        }
        ChatLanguage::En => "This conversation has ended. Thank you for contacting us.",
        ChatLanguage::Es => "Esta atención ha finalizado. Quedamos a su disposición.",
    }
}

/// Said when the visitor leaves (closes the conversation).
pub fn visitor_left(lang: ChatLanguage) -> &'static str {
    match lang {
        ChatLanguage::PtBr => "O cliente encerrou a conversa.",
        ChatLanguage::En => "The visitor ended the conversation.",
        ChatLanguage::Es => "El cliente finalizó la conversación.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_menu_reads_as_the_product_says() {
        let items = [
            MenuEntry {
                digits: "1".into(),
                label: "vendas".into(),
            },
            MenuEntry {
                digits: "2".into(),
                label: "suporte".into(),
            },
        ];
        assert_eq!(
            menu(ChatLanguage::PtBr, &items, None),
            "Digite 1 para vendas, 2 para suporte."
        );
        assert_eq!(
            menu(ChatLanguage::En, &items, Some('0')),
            "Type 1 for vendas, 2 for suporte, 0 to talk to an agent."
        );
        assert_eq!(position(ChatLanguage::PtBr, 3), "Você é o 3º da fila.");
    }
}
