#!/usr/bin/env bash
# Regenerates the built-in prompts (run once by a developer; ura never runs it).
# Needs espeak-ng and sox (Debian packages). Output: 8 kHz, 16-bit, mono WAV,
# normalised to -3 dBFS peak, leading/trailing silence trimmed.
set -euo pipefail
cd "$(dirname "$0")"
voice=pt-br dir=pt-BR
say() { # name text [trailing pause in seconds]
  local out="$dir/$1.wav" tmp
  tmp=$(mktemp --suffix=.wav)
  espeak-ng -v "$voice" -s 150 -w "$tmp" "$2"
  sox -D "$tmp" -r 8000 -c 1 -b 16 "$out" silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse norm -3 pad 0 "${3:-0}"
  rm -f "$tmp"
}
say echo-welcome "Bem-vindo ao teste de eco do ura. Tecle um dígito e ouça de volta. Tecle sustenido para sair."
say goodbye "Obrigado pela ligação. Até logo."
names=(zero um dois três quatro cinco seis sete oito nove)
for d in 0 1 2 3 4 5 6 7 8 9; do say "digit-$d" "${names[$d]}"; done
say digit-star "asterisco"
say digit-hash "sustenido"
for l in A B C D; do say "digit-$l" "$l"; done

# The IVR (issue 4): welcome, closed, menu pieces joined at run time, errors.
say ivr-welcome "Olá! Bem-vindo à central de atendimento de demonstração do ura." 0.3
say ivr-closed "Nosso atendimento está fechado no momento. Por favor, ligue novamente em nosso horário de atendimento." 0.3
say ivr-invalid "Opção inválida." 0.3
say ivr-no-input "Não recebemos nenhuma opção." 0.3
say ivr-no-answer "No momento, todos os nossos atendentes estão ocupados. Por favor, ligue mais tarde. Obrigado." 0.3
say ivr-service-closed "Este serviço está fechado no momento." 0.3
say menu-para "Para" 0.05
say menu-tecle "tecle" 0.05
say menu-operator "Para falar com a telefonista, tecle" 0.05
for label in vendas suporte financeiro; do say "label-$label" "$label" 0.05; done
# Hold music: a slow four-chord loop of plucked tones, made here (free of rights).
chord() { sox -n -r 8000 -c 1 -b 16 -p synth 2 pluck "$1" pluck "$2" pluck "$3" fade 0 2 0.3 gain -12; }
sox -D <(chord C4 E4 G4) <(chord A3 C4 E4) <(chord F3 A3 C4) <(chord G3 B3 D4) -r 8000 -c 1 -b 16 pt-BR/hold-music.wav norm -6
# The next opening, joined at run time: "Atendimento a partir de" + day + hour [+ minutes].
say next-opening "Atendimento a partir de" 0.05
say day-today "hoje" 0.05
say day-tomorrow "amanhã" 0.05
days=(domingo segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado)
for i in 0 1 2 3 4 5 6; do say "weekday-$i" "${days[$i]}" 0.05; done
for h in $(seq 0 23); do
  case $h in
    0) words="à meia-noite" ;;
    1) words="à uma hora" ;;
    12) words="ao meio-dia" ;;
    *) words="às $h horas" ;;
  esac
  say "hour-$h" "$words" 0.05
done
for m in 5 10 15 20 25 30 35 40 45 50 55; do say "minute-$m" "e $m minutos" 0.3; done
# Recording prompts by phone (*97).
say rec-ask-pin "Digite sua senha, seguida de sustenido." 0.2
say rec-bad-pin "Senha incorreta." 0.3
say rec-instructions "Grave sua mensagem após o sinal. Tecle sustenido para terminar." 0.2
say rec-menu "Tecle 1 para ouvir, 2 para salvar, ou 3 para gravar novamente." 0.3
say rec-ask-number "Digite o número da mensagem, seguido de sustenido." 0.2
say rec-saved "Mensagem salva. Até logo." 0.3

# Queues and agents (issue 11): position, estimated wait, agent feature codes.
ordinals=(primeiro segundo terceiro quarto quinto sexto sétimo oitavo nono décimo)
for i in $(seq 1 10); do say "queue-position-$i" "Você é o ${ordinals[$((i - 1))]} da fila." 0.2; done
say queue-position-more "Há mais de dez chamadas na sua frente." 0.2
say queue-wait "O tempo estimado de espera é de" 0.05
say wait-1 "um minuto." 0.3
for m in 2 3 4 5 6 7 8 9 10 15 20 30; do say "wait-$m" "$m minutos." 0.3; done
say wait-more "mais de trinta minutos." 0.3
say queue-please-hold "Por favor, aguarde. Em breve você será atendido." 0.3
say agent-login "Agente conectado. Bom trabalho." 0.3
say agent-logout "Agente desconectado." 0.3
say agent-pause "Pausa iniciada." 0.3
say agent-resume "Pausa encerrada. Você está disponível." 0.3
say agent-not-agent "Este ramal não é de um agente." 0.3
say transfer "Transferindo sua ligação. Por favor, aguarde." 0.3
say queue-callback "Recebemos seu pedido. Retornaremos a ligação assim que possível. Obrigado." 0.3
say queue-offer-callback "Se preferir que retornemos a ligação, tecle" 0.05
say queue-offer-message "Para deixar uma mensagem, tecle" 0.05
say queue-message-saved "Mensagem recebida. Obrigado." 0.3
say internal-unavailable "O ramal chamado não está disponível no momento." 0.3
sox -D -n -r 8000 -c 1 -b 16 pt-BR/beep.wav synth 0.4 sine 1000 gain -6 pad 0 0.1
# Ringback while an extension rings (Brazil: 425 Hz, 1 s on, 4 s off).
sox -D -n -r 8000 -c 1 -b 16 pt-BR/ringback.wav synth 1 sine 425 gain -10 pad 0 4

# The English set: the same names (sounds shared by both, such as hold-music
# and beep, exist only in pt-BR; ura falls back to pt-BR for a missing name).
voice=en-us dir=en
mkdir -p en
say echo-welcome "Welcome to the ura echo test. Press a digit and hear it back. Press pound to leave."
say goodbye "Thank you for calling. Goodbye."
names=(zero one two three four five six seven eight nine)
for d in 0 1 2 3 4 5 6 7 8 9; do say "digit-$d" "${names[$d]}"; done
say digit-star "star"
say digit-hash "pound"
for l in A B C D; do say "digit-$l" "$l"; done
say ivr-welcome "Hello! Welcome to the ura demo contact center." 0.3
say ivr-closed "We are closed right now. Please call again during our business hours." 0.3
say ivr-invalid "Invalid option." 0.3
say ivr-no-input "We did not receive an option." 0.3
say ivr-no-answer "All our agents are busy right now. Please call again later. Thank you." 0.3
say ivr-service-closed "This service is closed right now." 0.3
say menu-para "For" 0.05
say menu-tecle "press" 0.05
say menu-operator "To speak to an operator, press" 0.05
say label-vendas "sales" 0.05
say label-suporte "support" 0.05
say label-financeiro "billing" 0.05
say next-opening "We open" 0.05
say day-today "today" 0.05
say day-tomorrow "tomorrow" 0.05
days=(Sunday Monday Tuesday Wednesday Thursday Friday Saturday)
for i in 0 1 2 3 4 5 6; do say "weekday-$i" "on ${days[$i]}" 0.05; done
for h in $(seq 0 23); do
  case $h in
    0) words="at midnight" ;;
    12) words="at noon" ;;
    *) if [ "$h" -lt 12 ]; then words="at $h A M"; else words="at $((h - 12)) P M"; fi ;;
  esac
  say "hour-$h" "$words" 0.05
done
for m in 5 10 15 20 25 30 35 40 45 50 55; do say "minute-$m" "and $m minutes" 0.3; done
say rec-ask-pin "Enter your PIN, followed by pound." 0.2
say rec-bad-pin "Wrong PIN." 0.3
say rec-instructions "Record your message after the tone. Press pound when you are done." 0.2
say rec-menu "Press 1 to listen, 2 to save, or 3 to record again." 0.3
say rec-ask-number "Enter the message number, followed by pound." 0.2
say rec-saved "Message saved. Goodbye." 0.3

ordinals=(first second third fourth fifth sixth seventh eighth ninth tenth)
for i in $(seq 1 10); do say "queue-position-$i" "You are ${ordinals[$((i - 1))]} in line." 0.2; done
say queue-position-more "There are more than ten calls ahead of you." 0.2
say queue-wait "The estimated wait is" 0.05
say wait-1 "one minute." 0.3
for m in 2 3 4 5 6 7 8 9 10 15 20 30; do say "wait-$m" "$m minutes." 0.3; done
say wait-more "more than thirty minutes." 0.3
say queue-please-hold "Please hold. An agent will be with you shortly." 0.3
say agent-login "Agent logged in." 0.3
say agent-logout "Agent logged out." 0.3
say agent-pause "Paused." 0.3
say agent-resume "Pause ended. You are available." 0.3
say agent-not-agent "This extension is not an agent." 0.3
say transfer "Transferring your call. Please hold." 0.3
say queue-callback "We got your request. We will call you back as soon as we can. Thank you." 0.3
say queue-offer-callback "If you would like us to call you back, press" 0.05
say queue-offer-message "To leave a message, press" 0.05
say queue-message-saved "Message received. Thank you." 0.3
say internal-unavailable "The extension you called is not available right now." 0.3
