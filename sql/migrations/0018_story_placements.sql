-- Story placements in the order they were made. A relate step searches for other reports of
-- its event without holding the story lock (the nearest-neighbour search alone can take
-- 20-200 ms at a million signals); under the lock it then reads the signals placed since its
-- search began, which its search could not see. Placements are made under the lock, so their
-- numbers are in commit order and a reader sees a prefix of them. Rows older than an hour
-- are pruned by the placing step itself (service/related/service.py). Never edit this file
-- once released: add a new numbered migration instead.
CREATE TABLE story_placements (
    seq       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    signal_id uuid NOT NULL,
    placed_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
