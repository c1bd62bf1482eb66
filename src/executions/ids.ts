import { randomBytes } from 'node:crypto';

/**
 * `exec_` + 12 hex digits of the ms clock + 20 random hex digits (80 bits): unique and ordered by time, so the
 * list of a tenant's executions is the primary key's order and the cursor is an id.
 */
export function newExecutionId(now = Date.now()): string {
  return `exec_${now.toString(16).padStart(12, '0')}${randomBytes(10).toString('hex')}`;
}

const ID = /^exec_[0-9a-f]{32}$/;

/** Whether a string has the shape of an execution id (anything else is answered 404 without a query). */
export function isExecutionId(id: string): boolean {
  return ID.test(id);
}

/**
 * The request id of one run of an execution: its usage record carries the execution id and the attempt, so the
 * records of an execution are found by prefix and a retried run never reuses a record's unique id.
 */
export function runRequestId(executionId: string, attempt: number): string {
  return `${executionId}-${attempt}`;
}
