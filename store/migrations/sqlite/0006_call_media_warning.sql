-- Why an answered call's caller may have heard nothing (ura sent no RTP),
-- from the media statistics; NULL when media flowed.
ALTER TABLE calls ADD COLUMN media_warning TEXT;
