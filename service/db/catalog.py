"""Every named query in sql/queries, one typed attribute each: generated, do not edit.

Regenerate with ``python -m service.db.queries --write`` (service/db/queries.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from service.db.queries import Query


class Queries:
    """The named queries; ``service.db.queries.queries`` is the one instance."""

    # admin.sql
    admin_create_partner: Query
    """Creates a partner; nothing (no row) when the name is taken."""
    admin_list_partners: Query
    """Partners by name (or the one :id), with their active keys and the latest use of any key."""
    admin_update_partner: Query
    """Changes what the :set_* flags say, then tells every API process to drop its cached keys (they carry
    the partner's limits); the NOTIFY is delivered on commit."""
    admin_set_partner_disabled: Query
    """Disables (keeping the first time) or enables a partner and tells every API process to drop its
    cached keys, so the partner's keys stop (or start) working at once."""
    admin_list_partner_keys: Query
    """A partner's keys (or the one :key_id), newest first, with topic slugs, the partner's limits and the
    latest use; never the hash."""
    admin_update_partner_key: Query
    """Changes what the :set_* flags say of one key of a partner, then tells every API process to drop its
    cached keys (the restriction and limits are cached with the key)."""
    admin_revoke_partner_key: Query
    """Revokes one key of a partner (keeping the first time) and tells every API process to drop its
    cached keys."""

    # alerts.sql
    insert_alert: Query
    """Stores a new saved search; its query is parsed as search parses q (signal_search_query)."""
    search_words_of: Query
    """Whether q has words a search can look for (a query of stop words only has none)."""
    get_owned_alert: Query
    """One alert, if the caller manages it."""
    list_owned_alerts: Query
    """A page of the caller's alerts, oldest first, after a (created_at, id) position."""
    update_owned_alert: Query
    """Changes the fields whose set_* flag is true (a new query replaces the whole query)."""
    delete_owned_alert: Query
    """Deletes an alert with its matches."""
    webhook_of_key: Query
    """The endpoint, if the key created it (an alert delivers only to its own key's endpoints)."""
    owning_key_of_alert: Query
    """The key that created an alert the caller manages, with its topic restriction as it is now."""
    list_alert_matches: Query
    """A page of an alert's matches, newest first, after a match id; only signals the reader may see now
    (its topic restriction and supplier, as on every read)."""
    lock_alert_match_cursor: Query
    """The matcher's position in signal_changes, locked for this run (another matcher that holds it makes
    this one skip: one run at a time)."""
    advance_alert_match_cursor: Query
    """Moves the matcher past the changes it handled (in the same transaction as their matches)."""
    pending_signal_changes: Query
    """The next changes of the log after the matcher's position whose transactions have all ended (xid
    below the snapshot's xmin: nothing can still commit before them), in (xid, id) order, as sync reads
    them."""
    percolate_signal: Query
    """The alerts one current signal matches now (the matcher's test for one signal, as the bench and the
    plan test run it; nothing is stored)."""
    insert_alert_matches: Query
    """Matches each changed signal that is still current against every alert that existed when it changed,
    and stores the new matches (one per alert and signal: a repeat is ignored); returns them with where
    each goes (the alert's endpoint, if it is enabled)."""
    insert_alert_messages: Query
    """Stores alert.matched bodies to send, with the signal's topics and supplier (every attempt checks
    them against the endpoint key's restriction and supplier, as for signal events)."""

    # articles.sql
    upsert_fetched_article: Query
    """Stores the latest extraction of the page fetched at a canonical URL; returns its id and previous
    hash."""
    upsert_supplied_article: Query
    """Stores content a supplier sent for a canonical URL, replacing only that supplier's own article."""
    find_analysed_copy: Query
    """The article and signal already made from this exact text at this URL, fetched or sent by this
    supplier (never another supplier's), so a supplied copy of known text costs no LLM call."""
    upsert_urlless_article: Query
    """Stores text a supplier sent without a URL, keyed by the supplier and the text; returns its id."""
    get_article_by_id: Query
    """One article with the ids of the signals made from it, newest first (for a topic-restricted key,
    only those carrying one of its topics); nothing when it is another supplier's
    (service/keys/suppliers.py: supplied articles are their supplier's and admins' only)."""

    # digests.sql
    digest_candidates: Query
    """Current public signals that entered the service in [since, until), optionally carrying a topic:
    what ranking needs (briefings are everyone's: never written from supplied content)."""
    period_has_signals: Query
    """Whether any current public signal entered the service in [since, until) (with the topic, if given)."""
    digest_cards: Query
    """The card fields a briefing is written from (no article text), for the given signal ids (public ones
    only: a briefing never quotes supplied content)."""
    lock_digest_versions: Query
    """Serialises version numbering of one (period, start, topic) to the end of the transaction."""
    next_digest_version: Query
    """The version number the next writing of a (period, start, topic) gets."""
    unmark_latest_digest: Query
    """The previous versions of a (period, start, topic) stop being the latest."""
    insert_digest: Query
    """Stores one version of a briefing as the latest."""
    get_digest: Query
    """One briefing version with its topic."""
    latest_digest: Query
    """The latest version of the newest (or the given) period's briefing, general or of one topic."""
    list_digests_page: Query
    """A page of briefings (general, or of one topic), newest period first, after a (start, created_at,
    id) keyset."""
    insert_digest_job: Query
    """Records a request to write a briefing; nothing when the schedule already wrote the period or one is
    in flight."""
    get_active_digest_job_for_requester: Query
    """The unfinished job this requester already has for a briefing being written (leader or follower)."""
    insert_follower_digest_job: Query
    """A job of its own for a requester whose briefing another job is writing: it follows that job, whose
    row is locked (FOR SHARE) so it cannot finish before this insert commits; nothing when no job is in
    flight any more."""
    finish_digest_followers: Query
    """Copies a finished job's outcome onto the jobs that follow it; run after the job's final update, in
    the same transaction (a follower inserted meanwhile committed before that update could take the row,
    so this later statement sees it)."""
    get_digest_job: Query
    """One briefing job with its requester's partner; a follower not yet final shows its leader's stage."""
    start_digest_job: Query
    """Claims a queued (or retaken) job for writing and counts the attempt; nothing if it is final."""
    requeue_digest_job: Query
    """Back to queued for another attempt (a scheduled job whose model call failed in passing)."""
    finish_digest_job: Query
    """A job's final state: done (with its briefing), empty, or failed (with the error)."""

    # entities.sql
    count_entities_by_count: Query
    """A page of entities by current public signals in [since, until), most first; optionally one type or
    names matching q."""
    count_entities_on_topics: Query
    """The same page counted from the current public signals in [since, until) on one of :topic_any (the
    topic filter) and on one of :restrict_topics (a topic-restricted key's topics); either may be NULL,
    not both."""
    list_entities_by_name: Query
    """A page of entities in name order (optionally one type or names matching q), after a (name, id)
    position, that the reader may know (entity_known_to_reader); with :topic_any and / or
    :restrict_topics, only entities named by a current signal visible to the reader on one of each
    (entity_signal_topics)."""
    search_entities: Query
    """A page of entities matching q (name prefix or trigram word similarity, pg_trgm index) that the
    reader may know (entity_known_to_reader), best first; with :topic_any and / or :restrict_topics, only
    entities named by a current signal visible to the reader on one of each (entity_signal_topics)."""
    entity_window_counts: Query
    """Current public signals in [since, until) naming each of the given entities (one page's worth); with
    :topic_any and / or :restrict_topics, only signals on one of each (entity_signal_topics)."""
    get_entity_by_id: Query
    """One entity, and whether the reader may know it exists (entity_known_to_reader: asked of every
    entity, hidden or not, so a hidden one costs what a public one does)."""
    entity_signal_counts: Query
    """Current public signals naming an entity in the day, 7 and 30 days before :now (bounded by the
    window); with :restrict_topics, only signals on one of those topics."""
    entity_cooccurrences: Query
    """Entities and topics most often on an entity's newest :sample current public signals, and the
    sample's size; with :restrict_topics, signals on one of those topics only."""
    entity_named_on_topics: Query
    """Whether a current signal on one of the given topics, visible to the reader, names the entity
    (topic-restricted keys see only such entities)."""

    # jobs.sql
    insert_job: Query
    """Creates a queued job; a URL already in flight conflicts and returns nothing (join that job)."""
    get_active_job_for_submitter: Query
    """The unfinished job this submitter already has for a URL in flight (the leader or a follower)."""
    insert_follower_job: Query
    """A job of its own for a submitter whose URL another job is working on: it follows that job."""
    get_job_by_idempotency_key: Query
    """The job an Idempotency-Key already created for this API key (or for keyless callers)."""
    get_job_by_id: Query
    """One job, with its submitter's partner; a follower not yet final shows its leader's stage."""
    start_job_attempt: Query
    """Claims a job for a new attempt; returns nothing when the job is already finished."""
    set_job_status: Query
    """Moves a running job to its next stage, only if this attempt still owns it."""
    finish_job_done: Query
    """Marks a job done with its signal; drops the submitted body, which the article now holds."""
    finish_job_failed: Query
    """Marks a job failed with a typed reason, only if this attempt still owns it; what its model calls
    cost is added to what earlier attempts recorded (null arguments: no call was made)."""
    finish_followers: Query
    """Copies a finished job's outcome onto the jobs that follow it; run after the job's final update, in
    the same transaction (a follower inserted meanwhile committed before that update could take the row,
    so this later statement sees it)."""
    retry_job_later: Query
    """Puts a running job back to wait for another attempt after a passing model failure (only if this
    attempt still owns it); adds what its model calls cost, as finish_job_failed does."""
    hand_back_job: Query
    """A stopping worker gives a running job back to the queue (only if this attempt still owns it)."""

    # keys.sql
    insert_api_key: Query
    """Stores a new key's hash and visible prefix, with its partner, topic restriction and limits."""
    get_api_key_by_hash: Query
    """The key whose SHA-256 this is, revoked or not, with its partner's state and limits."""
    list_api_keys: Query
    """Every key, newest first (never the hash)."""
    get_partner_by_name: Query
    """A partner by its unique name."""
    insert_partner: Query
    """Creates a partner (its name is unique); returns the row, existing or new."""
    revoke_api_key: Query
    """Revokes a key by id or by its visible prefix; returns what was revoked and tells every API process
    to drop its cached keys (the NOTIFY is delivered on commit)."""
    touch_api_key: Query
    """Records use, at most once a minute per key (a write per request would be waste)."""
    ping: Query
    """Readiness probe."""

    # listing.sql
    list_signals_newest: Query
    """A page of current signals, newest first, after a (created_at, id) keyset position."""
    list_signals_relevance_ranked: Query
    """sort=relevance, a ranked tier, best ts_rank_cd over the card words first."""
    list_signals_relevance_text: Query
    """sort=relevance, tier 0 of 3: current signals matching :q only in the analysis or article text,
    newest first (rank 0): the same walk as a newest-first search."""
    search_snippets: Query
    """Highlighted fragments of the card text for a page of search results (only the page: ts_headline re-
    parses text)."""
    existing_entity_ids: Query
    """Which of the given entity ids exist for the reader: one only its own supplied signals may name is
    unknown to others (entity_known_to_reader); with :restrict_topics (a topic-restricted key's topics)
    only those a current signal on one of them, visible to the reader, names: the others do not exist for
    that key."""

    # migrations.sql
    create_migrations_table: Query
    """Records which numbered migration files were applied, with their checksums."""
    list_applied_migrations: Query
    """Every migration already applied, in order."""
    record_migration: Query
    """Marks one migration as applied."""
    lock_migrations: Query
    """Serialises migration runs of concurrent processes (held until the session unlocks it)."""
    unlock_migrations: Query
    """Releases the migration lock."""
    vector_extension_available: Query
    """Whether the server can provide pgvector at all."""

    # ratelimit.sql
    take_rate_tokens: Query
    """Refills a key's token bucket by the time since its last request and takes up to :want whole tokens
    (as many as are there, at least one to proceed); returns the tokens left and how many were taken (0:
    this request is refused)."""

    # related.sql
    get_signal_for_relating: Query
    """One signal as relating needs it: card text and trigrams, entity keys and names, topic labels,
    story, supplier."""
    signal_embedding_exists: Query
    """Whether the signal already has an embedding from this model and size (a retried job skips the
    call)."""
    upsert_signal_embedding: Query
    """Stores a signal's embedding (pgvector text form), replacing one from another model."""
    lock_embedding_index: Query
    """Serialises index creation between processes starting at once (held to the end of the transaction)."""
    create_embedding_index: Query
    """TEMPLATE: {dims} is replaced by a validated integer."""
    set_vector_search_options: Query
    """For this transaction: search wider than hnsw's default 40 and keep scanning when the model filter
    drops rows."""
    nearest_signals_by_embedding: Query
    """TEMPLATE: {dims} is replaced by a validated integer."""
    entity_spellings: Query
    """Every entity row spelled like one of the keys (the model may type one name differently), with how
    many current signals name it: the rarity behind entity weights."""
    signals_sharing: Query
    """TEMPLATE: {ids} is entity_ids or topic_ids (service/stories/candidates.py sets it)."""
    signals_sharing_entities_within: Query
    """signals_sharing_entities within a window (the story search's: a signal more than the story window
    away from the subject cannot join its story, service/stories/matching.py)."""
    signals_with_similar_text: Query
    """Current public signals whose headline, claim or key facts (search_head: weights A and B) share the
    text's distinctive words, best first."""
    related_candidate_features: Query
    """What scoring needs of each candidate (public ones only): identity, story, entity keys, topics, card
    trigrams (the service compares wording: service/similarity/wording.py) and meaning similarity."""
    topic_frequencies: Query
    """How many current signals carry each topic: the rarity behind topic weights, from the daily counts
    (a third of a million signals for the biggest topic, counted in 1 s before)."""
    topic_labels_by_id: Query
    """Labels of the given topics, for reasons."""
    current_signal_estimate: Query
    """About how many current signals exist (exact up to 10 000, the planner's estimate beyond)."""
    lock_related_writes: Query
    """Serialises writes to related lists, so concurrent jobs trimming the same list cannot deadlock."""
    delete_related_of_signal: Query
    """Drops a signal's own related list before it is written again."""
    upsert_related_links: Query
    """Stores related links (one row per pair and direction); a retried job updates instead of
    duplicating."""
    delete_links_to_other_versions: Query
    """Links to older versions of an article free their place (the new version is linked instead)."""
    trim_related_lists: Query
    """Keeps only the :keep best links in each of the given signals' lists."""
    mark_signal_related: Query
    """Records when a signal's embedding, story and related links were last computed."""
    signal_is_known: Query
    """Whether a signal exists for the reader (404 otherwise): another supplier's does not."""
    list_related_signals: Query
    """A signal's stored related links, best first, current public signals only (the related list
    endpoint); with :restrict_topics, only those carrying one of them (topic-restricted keys)."""
    signals_to_reembed: Query
    """Current signals without an embedding from :model at :dims, after :after_id (keyset, by id), with
    what their card text is made of: `signals reembed` after a model change."""
    count_signals_to_reembed: Query
    """How many current signals lack an embedding from :model at :dims."""

    # signal_deletion.sql
    lock_signal_for_deletion: Query
    """The signal about to be deleted (locked): its article, story and whether it is current."""
    delete_signal: Query
    """Deletes one signal (a trigger leaves its tombstone in signal_changes; topic, entity, embedding and
    related rows go with it; jobs and stories keep a NULL reference)."""
    restore_newest_version: Query
    """After the current version of an article was deleted, its newest remaining version is current again
    (a trigger logs it as updated)."""

    # signals.sql
    find_signal_for_content: Query
    """The signal already made from this exact text by this prompt version, if any (zero LLM calls)."""
    insert_signal: Query
    """Stores one signal with its article's metadata, its topic and entity ids (resolved first, so the
    wide row and its full-text entries are written once, not rewritten by two updates) and its full-text
    vector; a concurrent twin (same article, text and prompt) wins and we get nothing back."""
    supersede_article_signals: Query
    """Older signals of an article stop being current once a newer one exists."""
    resolve_topic_slugs: Query
    """The topic each slug names, directly or through an alias (NULL: unknown slug)."""
    topics_with_slug_prefix: Query
    """Existing topic slugs starting with a prefix: synonym candidates for a new slug."""
    insert_topic_alias: Query
    """Records that a slug is another spelling of a topic."""
    upsert_topic: Query
    """The id of the topic with this slug, creating it if needed."""
    link_signal_topics: Query
    """Links a stored signal to its topics (ids in the model's order; the signal carries them already)."""
    insert_entities: Query
    """Creates the entities not stored yet, in (type, key) order: every transaction takes new names in the
    same order, so two signals naming the same new entities cannot deadlock."""
    entity_ids_for_keys: Query
    """The ids of entities (stored by insert_entities just before, in its own statement so that names
    another transaction committed meanwhile are seen), in the order given."""
    link_signal_entities: Query
    """Links a stored signal to its entities (ids in the model's order; the signal carries them already)."""
    get_signal_cards: Query
    """Signal cards (source, topics, entities, top related links) for the given ids that the reader may
    see (signal_supplier_visible: another supplier's are left out), any order."""
    signal_has_any_topic: Query
    """Whether a signal the reader may see (signal_supplier_visible) carries at least one of the given
    topics (topic-restricted keys)."""
    article_has_signal_on_topics: Query
    """Whether the signal of the article's text as stored now carries one of the given topics: a topic-
    restricted key reads an article only when it may see the analysis of that very text (an older version
    on its topics does not open a newer text that is not)."""
    make_signal_current: Query
    """An article's older version answered again (its page changed back): that signal becomes current and
    the one current until now stops being it; returns the stories either is in. signals_log_restore logs
    it as updated (→ webhook_events → NOTIFY; README "Architecture")."""

    # stories.sql
    lock_story_assignment: Query
    """Serialises story assignment between workers (to the end of the transaction): two reports of one
    event relating at once must not both start a story."""
    story_placement_mark: Query
    """The newest placement a fresh snapshot sees: a relate step reads it before searching, and under the
    lock reads the placements after it (placements are numbered in commit order)."""
    signals_placed_since: Query
    """Signals placed in a story after :mark, which a search begun at :mark may not have seen."""
    record_story_placement: Query
    """Logs that a signal was just placed in a story (under the lock), for concurrent searches."""
    prune_story_placements: Query
    """Forgets placements older than any search still in flight can be (see the migration 0018)."""
    current_story_of_signals: Query
    """The story each of these signals is in now, current ones only (read under the lock)."""
    story_of_signal: Query
    """The story a signal is in now (read under the lock: another job may just have set it)."""
    story_of_other_versions: Query
    """The story of an older version of the same article, if any: a new version stays in it."""
    create_story: Query
    """Starts a story with its first signal (counts and lead are set by refresh_story)."""
    set_signal_story: Query
    """Puts a signal in a story."""
    refresh_story: Query
    """Recomputes a story from its signals: the newest current signal leads (and only it is flagged
    is_story_lead), count of current signals, first and last seen, title of the lead."""
    list_stories_page: Query
    """A page of stories, most recently active first, after a (last_seen, id) keyset position."""
    get_story: Query
    """One story's summary row."""
    story_signals: Query
    """A story's current signals, newest first (the lead is the first); with :restrict_topics, only those
    carrying one of them (a topic-restricted key), and the newest of those leads."""
    story_sources: Query
    """The outlets that reported a story, with how many of its current signals each gave (with
    :restrict_topics, of those carrying one of them)."""
    list_stories_page_restricted: Query
    """A page of stories as a key restricted to :topic_ids sees them: only stories with a current signal
    on one of those topics, each summarised from those signals alone (count, first and last seen, lead and
    its title), most recently active first after a (last_seen, id) position."""
    get_story_restricted: Query
    """One story as a key restricted to :topic_ids sees it (nothing when none of its current signals
    carries one of them)."""

    # sync.sql
    sync_changes_page: Query
    """Changes after an (xid, id) position, in log order, from transactions that have all ended (xid below
    the snapshot's xmin: nothing can still commit before them)."""

    # topics.sql
    count_topics_by_count: Query
    """A page of topics by current signals in [since, until), most first, with the previous window's
    counts."""
    count_topics_by_trending: Query
    """A page of topics seen in [since, until), fastest growing against the previous window first."""
    get_topic_by_slug_or_alias: Query
    """The topic a slug names, directly or through an alias, with all its aliases, and whether the reader
    may know it exists (topic_known_to_reader: asked of every topic, hidden or not, so a hidden one costs
    what a public one does)."""
    topic_signal_counts: Query
    """Current public signals of a topic in the day, 7 and 30 days before :now (bounded by the window,
    however popular the topic)."""
    topic_timeline: Query
    """A topic's current public signals per UTC day or week (Monday) in [since, until): every bucket, with
    mean sentiment (DayPieces of [since, until): whole days from the daily counts, the rest from signals)."""
    lock_topics_for_merge: Query
    """Locks the given topics in id order (two merges cannot deadlock); returns the ones that exist."""
    merge_topic_into_signal_arrays: Query
    """Replaces the source topic by the target in the topic_ids of every signal carrying it, keeping
    order, no repeats."""
    merge_topic_links: Query
    """Moves the source topic's signal_topics rows to the target; a signal linked to both keeps one row,
    at the earlier position."""
    merge_topic_aliases: Query
    """The source topic's aliases, and the source slug itself, become aliases of the target."""
    merge_topic_into_key_restrictions: Query
    """Keys restricted to the source topic are restricted to the target instead (no repeats), and every
    API process drops its cached keys (a key's restriction is cached with it); the NOTIFY is delivered
    when the merge commits."""
    notify_topics_changed: Query
    """Every process empties its slug -> topic cache (service/topics/cache.py) when the merge commits."""
    delete_topic: Query
    """Deletes a topic that no signal links to any more."""
    resolve_topic_slugs_for_reader: Query
    """The topic each slug names, directly or through an alias (no row: an unknown slug), whether it is
    public (a cache may keep it) and whether the reader may know it exists (topic_known_to_reader)."""

    # webhook_delivery.sql
    lock_dispatch_cursor: Query
    """The dispatcher's position in the outbox, locked for this run (another dispatcher that holds it
    makes this one skip: one fan-out at a time)."""
    pending_webhook_events: Query
    """The next events of the outbox whose transactions have all ended, in (xid, id) order, each with the
    endpoints that subscribe to it: enabled, event type and topics match, created before the event, and
    the endpoint's key may still deliver it (not revoked, partner not disabled, the event within the key's
    topic restriction as it is now)."""
    advance_dispatch_cursor: Query
    """Moves the dispatcher past the events it handled (in the same transaction as their deliveries)."""
    insert_webhook_messages: Query
    """Stores the bodies of events that have subscribers, once each, with the event's topics and supplier
    (every attempt checks them against the endpoint key's restriction and supplier)."""
    insert_webhook_deliveries: Query
    """One delivery per endpoint and message (a repeat is ignored), due now."""
    claim_delivery: Query
    """Takes a delivery for one attempt: pending (or sending with a lapsed lease, its worker died) to an
    enabled endpoint whose key may still deliver the message (a retry may come hours after the fan-out,
    the key revoked or narrowed since)."""
    delivery_state: Query
    """Where a delivery stands (why it could not be claimed), and why its endpoint's key may no longer
    deliver it, if so (the negation of claim_delivery's key conditions, one reason)."""
    finish_attempt: Query
    """Records one attempt and the outcome of the attempt that holds the delivery (delivered, failed, or
    pending again), in one statement."""
    fail_undeliverable: Query
    """A delivery that may not be sent any more (its endpoint disabled, its key revoked or narrowed
    meanwhile) ends as failed with the reason: pending, or left sending by a worker that died."""
    disable_webhook: Query
    """Stops an endpoint (the receiver answered 410 Gone)."""
    insert_webhook_event: Query
    """Records an event in the caller's transaction; the dispatcher fans it out once that commits."""

    # webhook_retention.sql
    prune_webhook_messages: Query
    """Deletes up to :batch messages older than :before whose deliveries are all final (delivered or
    failed): their deliveries and attempts go with them (ON DELETE CASCADE)."""
    prune_webhook_events: Query
    """Deletes up to :batch outbox events older than :before that the dispatcher has passed."""

    # webhooks.sql
    insert_webhook: Query
    """Stores a new endpoint (its secret already encrypted)."""
    get_owned_webhook: Query
    """One endpoint, if the caller manages it."""
    list_owned_webhooks: Query
    """A page of the caller's endpoints, oldest first, after a (created_at, id) position."""
    get_owning_key: Query
    """The key that created an endpoint the caller manages, with its topic restriction as it is now."""
    update_owned_webhook: Query
    """Changes the fields whose set_* flag is true; enabling clears the disabled state."""
    delete_owned_webhook: Query
    """Deletes an endpoint with its deliveries and attempts."""
    rotate_owned_webhook_secret: Query
    """Installs a new secret; the current one keeps signing until now + overlap (none when 0)."""
    list_webhook_deliveries: Query
    """A page of one endpoint's deliveries, newest first, each with its attempts in order."""
    insert_redelivery: Query
    """A new delivery of a delivery's message to the same endpoint (the same webhook-id)."""
    topic_slugs_by_id: Query
    """Slugs of topic ids (a webhook's topics as the caller named them)."""
