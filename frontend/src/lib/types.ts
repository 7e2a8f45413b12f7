// Types mirroring docs/PROTOCOL.md (console ⇄ server). Times are ISO-8601 UTC strings,
// ids are 32-char hex strings.

export type Role = 'admin' | 'ops_lead' | 'moderator' | 'host' | 'viewer';

export interface User {
  id: string;
  username: string;
  display_name: string;
  role: Role;
}

export type EventStatus = 'draft' | 'live' | 'ended';

export interface Event {
  id: string;
  slug: string;
  title: string;
  status: EventStatus;
  starts_at: string | null;
}

export interface Source {
  id: string;
  platform: string;
  name: string;
  kind: 'chat' | 'qa';
  enabled: boolean;
  /** what the source can do on its platform, e.g. ["ban","delete","timeout","viewer_counts"] */
  capabilities?: string[];
}

export interface EventDetail extends Event {
  sources: Source[];
  role: string;
}

export interface ChatMessage {
  id: string;
  source_id: string;
  platform: string;
  author_id: string;
  author_name: string;
  text: string;
  truncated: boolean;
  is_question: boolean;
  hidden: boolean;
  /** held for review by a rule: belongs in the hold queue, not the feed */
  held?: boolean;
  /** flagged by a rule (still shown) */
  flagged?: boolean;
  /** why a rule hid, held or flagged it, e.g. "held: matched term 'x'" (may quote audience text) */
  moderation_reason?: string | null;
  /** bumped by every console decision; hide/unhide/release/reject send it back (409 when stale) */
  version: number;
  platform_at: string;
  received_at: string;
}

// ---- chat moderation -----------------------------------------------------------

export type PlatformActionType = 'delete' | 'timeout' | 'ban';
export type ModerationStatus = 'pending' | 'done' | 'failed' | 'not_supported';

/** POST /api/events/{id}/chat/{mid}/actions body */
export interface PlatformActionRequest {
  type: PlatformActionType;
  duration_s?: number;
  reason?: string;
}

/** A platform action and (once it came) the platform's answer. */
export interface ModerationResult {
  id: string;
  action_id: string;
  chat_message_id: string;
  source_id: string;
  action: PlatformActionType | string;
  params: Record<string, unknown> | null;
  status: ModerationStatus;
  /** the platform's (or the server's) words; may quote audience text */
  reason: string | null;
  requested_by: string | null;
  created_at: string;
  completed_at: string | null;
}

export type RuleAction = 'hide' | 'hold' | 'flag';

export interface BannedTerm {
  term: string;
  action: RuleAction;
  whole_word: boolean;
}

export interface FloodRule {
  max_messages: number;
  per_seconds: number;
  max_repeats: number;
  repeat_window_s: number;
  action: RuleAction;
}

export interface SpamRule {
  threshold: number;
  action: RuleAction;
}

/** null turns flood or spam off. */
export interface RuleSet {
  banned_terms: BannedTerm[];
  flood: FloodRule | null;
  spam: SpamRule | null;
  exempt_roles: string[];
  trusted_authors: string[];
}

/** GET / PUT /api/events/{id}/moderation/rules */
export interface RulesDoc {
  version: number;
  rules: RuleSet;
}

export type QuestionState = 'pending' | 'approved' | 'on_deck' | 'answered' | 'rejected' | 'archived';

export interface Question {
  id: string;
  source_id: string;
  platform: string;
  author_name: string;
  text: string;
  /** the audience's text before a moderator's edit; null when never edited */
  original_text: string | null;
  state: QuestionState;
  votes: number;
  /** moderator boost, added to votes */
  boost: number;
  /** votes + boost */
  score: number;
  version: number;
  pinned: boolean;
  tags: string[];
  /** show the question without its author */
  anonymous: boolean;
  host_note: string;
  /** user id holding the claim (claims expire at claimed_until) */
  claimed_by: string | null;
  claimed_by_name: string | null;
  claimed_until: string | null;
  merged_into: string | null;
  merged_count: number;
  /** an earlier open question this one re-asks (the pipeline's suggestion), and how alike (0-1) */
  duplicate_of: string | null;
  duplicate_score: number | null;
  received_at: string;
  updated_at: string;
}

/** GET /api/events/{id}/questions/counts */
export type QuestionCounts = Partial<Record<QuestionState, number>>;

/** POST /api/events/{id}/questions/bulk */
export interface BulkResult {
  done: Question[];
  failed: { id: string; error: string | { code?: string; message?: string } }[];
}

export interface Gauges {
  /** server time the numbers were computed */
  at: string;
  viewers: { total: number; by_platform: Record<string, number> };
  messages_per_min: number;
  unique_chatters_per_min: number;
  /** chat lines not hidden and not questions, plus each question once (the report's count) */
  interactions_per_min: number;
  questions_pending: number;
  ingest_backlog: number;
}

/** REST error body: {"error": {"code", "message", "details"?, "current"?}} */
export interface ApiErrorBody {
  /**
   * `current` on a 409: the thing as it is now (a Question for triage, a ChatMessage for
   * not_held, a RulesDoc for the moderation rules)
   */
  error: { code: string; message: string; details?: unknown; current?: unknown };
}

// ---- WebSocket -------------------------------------------------------------

export type Topic = 'chat' | 'questions' | 'polls' | 'cues' | 'gauges' | 'sources' | 'incidents';

export interface SubscribeMsg {
  type: 'subscribe';
  topics: Topic[];
  since: number | null;
}

export interface Snapshot {
  chat: ChatMessage[];
  questions: Question[];
  gauges: Gauges | null;
  /** the latest platform actions and their answers (newest last) */
  moderation?: ModerationResult[];
  /** the open poll (at most one), with its results */
  polls?: Poll[];
  /** the run-of-show and its live cue */
  cues?: CueSheet;
  /** the open incidents (triage … monitoring) */
  incidents?: Incident[];
}

export interface HelloMsg {
  type: 'hello';
  server_time: string;
  seq: number;
  resumed: boolean;
  replayed: number;
  snapshot: Snapshot | null;
}

export type Delta =
  | { seq: number; topic: 'chat'; type: 'chat.message'; at: string; data: ChatMessage }
  | { seq: number; topic: 'chat'; type: 'chat.updated'; at: string; data: ChatMessage }
  | { seq: number; topic: 'chat'; type: 'moderation.result'; at: string; data: ModerationResult }
  | { seq: number; topic: 'questions'; type: 'question.created'; at: string; data: Question }
  | { seq: number; topic: 'questions'; type: 'question.updated'; at: string; data: Question }
  | { seq: number; topic: 'gauges'; type: 'gauges.update'; at: string; data: Gauges }
  | { seq: number; topic: 'polls'; type: 'poll.updated'; at: string; data: Poll }
  | { seq: number; topic: 'polls'; type: 'poll.results'; at: string; data: PollResults }
  | { seq: number; topic: 'cues'; type: 'cue.updated' | 'cue.overrun'; at: string; data: Cue }
  | { seq: number; topic: 'cues'; type: 'cue.live'; at: string; data: CueLive }
  | { seq: number; topic: 'cues'; type: 'cue.deleted'; at: string; data: { id: string } }
  | { seq: number; topic: 'polls'; type: 'poll.deleted'; at: string; data: { id: string } }
  | { seq: number; topic: 'incidents'; type: 'drill.started' | 'drill.stopped'; at: string; data: unknown }
  | { seq: number; topic: 'cues'; type: 'cue.action'; at: string; data: { cue_id: string; action: CueAction } }
  | { seq: number; topic: 'incidents'; type: 'incident.updated'; at: string; data: Incident }
  | { seq: number; topic: 'incidents'; type: 'incident.timeline'; at: string; data: TimelineEntry }
  | { seq: number; topic: 'incidents'; type: 'incident.notify'; at: string; data: IncidentNotify }
  | { seq: number; topic: 'incidents'; type: 'signal.detected'; at: string; data: DetectorSignal };

export interface BatchMsg {
  type: 'batch';
  seq_from: number;
  seq_to: number;
  items: Delta[];
}

export interface ResyncMsg {
  type: 'resync';
  reason: string;
}

export interface PingMsg {
  type: 'ping';
  server_time: string;
}

export type ServerMsg = HelloMsg | BatchMsg | ResyncMsg | PingMsg;

// ---- run-of-show and polls (docs/PROTOCOL.md) ----------------------------------------

export type CueState = 'pending' | 'live' | 'done' | 'skipped';

export interface CueAction {
  type: string;
  [k: string]: unknown;
}

export interface Cue {
  id: string;
  position: number;
  title: string;
  planned_start_at: string | null;
  /** 0: untimed */
  planned_duration_s: number;
  owner_role: string | null;
  notes: string;
  actions: CueAction[];
  state: CueState;
  actual_start_at: string | null;
  actual_end_at: string | null;
  remaining_s: number | null;
  overrun_s: number;
  overrun: boolean;
  actions_fired: { type: string; at: string; status: string; detail?: unknown }[];
  version: number;
  updated_at: string;
}

/** GET /api/events/{id}/cues */
export interface CueSheet {
  server_time: string;
  sheet_version: number;
  live_cue_id: string | null;
  cues: Cue[];
}

/** cue.live delta and the GO answer */
export interface CueLive {
  live: Cue | null;
  next: Cue | null;
  ended: Cue | null;
  server_time: string;
}

export type PollKind = 'single' | 'multiple' | 'rating';
export type PollState = 'draft' | 'open' | 'closed';

/** poll.results delta, and a poll's `results` */
export interface PollResults {
  poll_id: string;
  state: PollState;
  kind: PollKind;
  options: { position: number; label: string; votes: number }[];
  /** native: counted by the platform's own poll (Twitch, YouTube), not from ballots */
  by_platform: Record<string, { voters: number; counts: number[]; native?: boolean }>;
  total_voters: number;
  late_votes: number;
  average?: number | null;
}

export interface Poll {
  id: string;
  event_id: string;
  title: string;
  kind: PollKind;
  state: PollState;
  options: string[];
  duration_s: number | null;
  opens_at: string | null;
  closes_at: string | null;
  cue_id: string | null;
  version: number;
  created_at: string;
  updated_at: string;
  results: PollResults | null;
}

// ---- run-of-show editing (docs/PROTOCOL.md "Run-of-show", app/cues/schemas.py) ----------

/** Who may own a cue: the team, not the audience. */
export type OwnerRole = 'host' | 'ops_lead' | 'moderator' | 'admin';

/** The actions a cue may carry, exactly as the API takes them. */
export type CueActionSpec =
  | { type: 'open_poll'; poll_id: string }
  | { type: 'close_poll'; poll_id: string }
  | { type: 'open_qa' }
  | { type: 'close_qa' }
  | { type: 'show_question'; question_id: string }
  | { type: 'show_checklist'; title?: string; items: string[] };

export type CueActionType = CueActionSpec['type'];

/** POST /api/events/{id}/cues */
export interface CueCreate {
  title: string;
  planned_start_at?: string | null;
  planned_duration_s?: number;
  owner_role?: OwnerRole;
  notes?: string;
  actions?: CueActionSpec[];
  position?: number;
}

/** PATCH /api/events/{id}/cues/{cue_id}: only the fields sent change */
export interface CuePatch {
  version: number;
  title?: string;
  planned_start_at?: string | null;
  planned_duration_s?: number;
  owner_role?: OwnerRole;
  notes?: string;
  actions?: CueActionSpec[];
  position?: number;
  state?: 'pending' | 'skipped';
}

/** One line of a 422 invalid_sheet answer to an import. */
export interface SheetProblem {
  line: number;
  field: string;
  problem: string;
}

/** PATCH /api/events/{id}/polls/{poll_id}: drafts only */
export interface PollEdit {
  version: number;
  title?: string;
  kind?: PollKind;
  options?: string[];
  duration_s?: number | null;
  cue_id?: string | null;
}

// ---- incidents and the playbook (docs/PROTOCOL.md "Incidents", app/playbooks) -----------

export type Severity = 'sev1' | 'sev2' | 'sev3' | 'sev4';
export type IncidentState =
  | 'triage'
  | 'acknowledged'
  | 'mitigating'
  | 'monitoring'
  | 'resolved'
  | 'closed'
  | 'cancelled';
export type StepState = 'todo' | 'in_progress' | 'done' | 'skipped';

export interface IncidentStep {
  id: string;
  position: number;
  text: string;
  owner_role: string;
  /** manual | automatic */
  kind: string;
  action: Record<string, unknown> | null;
  /** false: added ad hoc */
  from_playbook: boolean;
  state: StepState;
  /** why it was skipped */
  reason: string | null;
  done_by: string | null;
  done_at: string | null;
  version: number;
}

export interface EscalationRule {
  after_s: number;
  notify_role?: string | null;
  raise_severity_to?: Severity | null;
}

export interface Incident {
  id: string;
  event_id: string;
  /** 1, 2, … per event */
  number: number;
  title: string;
  category: string;
  severity: Severity;
  state: IncidentState;
  entry_slug: string | null;
  playbook_version: number | null;
  /** a detector's entry, for a person to confirm or correct */
  suggested_slug: string | null;
  match_confirmed: boolean;
  signal: string | null;
  scope: string | null;
  /** the detector's decision in a sentence ("" when a person opened it) */
  explanation: string;
  detection: Record<string, unknown>;
  drill: boolean;
  plan: {
    escalation?: EscalationRule[];
    targets?: Record<string, number>;
    templates?: Record<string, string>;
  };
  escalations_done: number;
  /** while in triage: when the next escalation rule applies (null: none left) */
  next_escalation_at: string | null;
  impact_started_at: string | null;
  detected_at: string | null;
  declared_at: string | null;
  acknowledged_at: string | null;
  mitigated_at: string | null;
  resolved_at: string | null;
  closed_at: string | null;
  version: number;
  created_by: string;
  created_at: string;
  updated_at: string;
  steps: IncidentStep[];
  /** who holds which role now (lead, comms, …) */
  roles: { role: string; user_id: string; user_name: string }[];
}

export type TimelineKind = 'opened' | 'state' | 'note' | 'step' | 'role' | 'severity' | 'match' | 'escalation';

/** Append-only; ids grow with time. */
export interface TimelineEntry {
  id: number;
  incident_id: string;
  at: string;
  /** user:<name>, detector:<signal>, system */
  actor: string;
  kind: TimelineKind | string;
  text: string;
  data: Record<string, unknown>;
}

/** GET /api/events/{id}/incidents/{iid} */
export interface IncidentWithTimeline extends Incident {
  timeline: TimelineEntry[];
}

/** incident.notify: an escalation for the consoles of `role` */
export interface IncidentNotify {
  incident_id: string;
  number: number;
  title: string;
  role: string;
  severity: Severity;
  text: string;
}

/** A detector's decision that did not open an incident (signal.detected, GET /signals). */
export interface DetectorSignal {
  id: string;
  at: string;
  signal: string;
  scope: string;
  entry_slug: string | null;
  /** suggest | monitor | open_incident */
  mode: string;
  /** suggested | monitored | deduplicated */
  outcome: string;
  explanation: string;
  data: Record<string, unknown>;
  /** the open incident that already covers it (deduplicated) */
  incident_id: string | null;
  drill: boolean;
}

/** POST /api/events/{id}/incidents */
export interface IncidentOpen {
  entry_slug?: string;
  title?: string;
  category?: string;
  severity?: Severity;
  impact_started_at?: string;
  drill?: boolean;
  note?: string;
}

export interface PlaybookStep {
  text: string;
  owner_role: string;
  kind?: string;
  action?: Record<string, unknown> | null;
}

export interface PlaybookEntry {
  id?: string;
  position?: number;
  slug: string;
  title: string;
  category: string;
  default_severity: Severity;
  owner_role: string;
  detection: Record<string, unknown>[];
  steps: PlaybookStep[];
  escalation: EscalationRule[];
  targets: Record<string, number>;
  templates: Record<string, string>;
}

/** GET /api/playbook: the active version */
export interface Playbook {
  id?: string;
  version: number;
  name: string;
  active?: boolean;
  created_at?: string;
  entries: PlaybookEntry[];
}

/** GET /api/events/{id}/incidents/metrics (its shape beyond these is not used by the console) */
export interface IncidentMetrics {
  [k: string]: unknown;
}

/** GET /api/events/{id}/members: who can be given a role on an incident */
export interface EventMember {
  user_id: string;
  name: string;
  /** their role on the event (admin, ops_lead, moderator, host, viewer) */
  role: string;
}

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

/** One line of the preflight checklist (app/drills/preflight.py Check). */
export interface PreflightCheck {
  /** source, test message, poll dry run, clock skew */
  name: string;
  /** what it checked: a source's or a poll's name, "database", a platform ("" for none) */
  target: string;
  status: CheckStatus;
  detail: string;
}

/** POST /api/events/{id}/preflight */
export interface PreflightResult {
  /** no check failed (warnings and skips pass) */
  passed: boolean;
  at: string;
  checks: PreflightCheck[];
}

export type DrillScenario = 'stream_drop' | 'spam_raid';

/** GET /api/events/{id}/drills: the drill running now (null: none) */
export interface Drill {
  scenario: DrillScenario | string;
  /** the rehearsal source the drill added */
  source_id: string;
  started_at: string;
  /** the scenario's end plus the time the team has to finish */
  until: string;
  /** who started it (a username) */
  by: string;
}
