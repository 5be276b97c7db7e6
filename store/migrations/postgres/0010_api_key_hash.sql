-- API keys are looked up by the hash of the key on every admin API request.
CREATE INDEX api_keys_hash ON api_keys (hash);
