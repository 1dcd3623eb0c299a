import type { PlainResponse } from '../request.js';

/** What a control request carries on its way to the process that holds its connection. */
export interface RequestHeader {
  kind: 'request';
  requestId: string;
  /** Where the sender waits for the answer. */
  replyTo: string;
}

/** The owner's answer, on its way back to the process that forwarded the request. */
export interface ReplyMessage {
  kind: 'reply';
  requestId: string;
  answer: PlainResponse;
}
