-- What a job's model calls cost (service/signals/pipeline.py): a failed job records its tokens,
-- latency and attempts as a stored signal's provenance does, so spend on failures is visible on
-- GET /v1/jobs/{id}. Null: the job made no model call (or finished before this migration).
-- Never edit this file once released: add a new numbered migration instead.
ALTER TABLE jobs
    ADD COLUMN llm_model text,
    ADD COLUMN llm_input_tokens integer,
    ADD COLUMN llm_output_tokens integer,
    ADD COLUMN llm_latency_ms integer,
    ADD COLUMN llm_attempts integer;
