import type { TrackedEnvelope } from '@trpc/server';
import type { CheckpointSignal, ResetSignal } from './reset.js';

/** What a log's reader yields: events, and the positions (resets, checkpoints) the transport carries. */
export type ReaderItem = TrackedEnvelope<unknown> | ResetSignal | CheckpointSignal;
