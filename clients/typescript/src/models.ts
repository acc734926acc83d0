/** What the server answers, typed (the `data` of each answer; docs/protocol.md). Each keeps fields
 * it does not name, as the server may add some. Mirrors clients/python/aicore_client/models.py. */

export interface Participant {
  id: string;
  kind: string; // "player" | "npc"
  [more: string]: unknown;
}

/** A line of a session (history pages; `session.message` frames during a resume). */
export interface Message {
  seq: number;
  speaker: Participant;
  text: string;
  created_at?: string;
  correlation_id?: string;
  session_id?: string;
  [more: string]: unknown;
}

/** An `npc.transcript`: what the server wrote down of an `npc.listen` utterance (the turn follows). */
export interface Transcript {
  text: string;
  ended_by: string; // "final" | "silence"
  audio_ms: number;
  [more: string]: unknown;
}

/** An `npc.listening`: a chunk of an utterance taken; `speech` if it held speech, `ended` if the
 * utterance is over. */
export interface Listening {
  seq: number;
  speech: boolean;
  ended: boolean;
  [more: string]: unknown;
}

/** An `npc.reply`: the NPC's whole line, as stored (`seq`), and how it was made. */
export interface Reply {
  session_id: string;
  npc_id: string;
  text: string;
  seq: number;
  tier: string; // "gold" | "silver" | "scripted"
  fallback: boolean;
  fallback_reason?: string | null;
  truncated: boolean;
  truncated_reason?: string | null;
  mode?: string;
  timings?: Record<string, number>;
  emotion?: { dominant: string; intensities: Record<string, number> } | null;
  relationship?: { trust: number; affinity: number; label: string } | null;
  phrases?: { text: string; language: string; translation?: string | null; proficiency: number }[];
  quest_offer?: Record<string, unknown> | null;
  context?: Record<string, unknown> | null;
  [more: string]: unknown;
}

export interface HistoryPage {
  session_id: string;
  messages: Message[];
  next_before?: number | null; // older messages exist: ask again with before = this
  [more: string]: unknown;
}

export interface SessionHead {
  session_id: string;
  participants: Participant[];
  version?: number | null;
  message_count?: number | null;
  [more: string]: unknown;
}

export interface Welcome {
  resume_token: string;
  protocol: string; // the connection's subprotocol
  capabilities: Record<string, unknown>;
  [more: string]: unknown;
}

export interface Pong {
  server_time: string;
  [more: string]: unknown;
}

export interface ResumedSession {
  session_id: string;
  sent: number;
  last_seq: number;
  next_before?: number | null;
  [more: string]: unknown;
}

export interface Resumed {
  sessions: ResumedSession[];
  [more: string]: unknown;
}

export interface NpcInterrupted {
  target_request_id: string;
  interrupted: boolean; // true: it was streaming and stops; false: it had finished
  [more: string]: unknown;
}

export interface WorldSubscribed {
  world_id: string;
  regions?: string[] | null;
  [more: string]: unknown;
}

/** A `world.update` push: `kind` says what changed; deduplicated on `event_id` by the client. */
export interface WorldUpdate {
  kind: string;
  world_id: string;
  event_id: string;
  occurred_at?: string;
  region?: string | null;
  version?: number;
  [more: string]: unknown;
}

/** A `quest.update` push: one of the player's quests was offered, accepted, progressed or completed
 * (`kind`); the fields of its kind are set. No subscription: it reaches every connection of the player. */
export interface QuestUpdate {
  kind: string; // "offered" | "accepted" | "progressed" | "completed"
  world_id: string;
  event_id: string;
  quest_id: string;
  npc_id: string;
  template_id: string;
  occurred_at?: string;
  title?: string | null;
  expires_at?: string | null;
  objective_id?: string | null;
  done?: number | null;
  count?: number | null;
  [more: string]: unknown;
}

export interface ConnectionWarning {
  code: string;
  message: string;
  platform?: string;
  recommended?: string;
  [more: string]: unknown;
}
