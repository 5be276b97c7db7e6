-- Records are written when a call is answered ('in-progress') and completed
-- when it ends; the completion finds its row by SIP Call-ID.
CREATE INDEX calls_sip_call_id ON calls (sip_call_id);
