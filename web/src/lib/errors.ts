/**
 * Human words for every error the client can meet: Parley's stable codes (docs/errors.md),
 * the SDK's local ones (network_error, timeout, disconnected) and the upload helper's
 * (upload_failed, aborted). The server's own message is shown only where it is meant for
 * people (validation of a field the user typed), never a schema path like `body/size`.
 */
import { ParleyError } from '../../../sdk/index.js';
import { UploadError } from '../../../sdk/upload.js';

/** Every code this client knows, with what to tell the user. */
export const ERROR_TEXT: Record<string, string> = {
  invalid_request: 'That was not accepted. Please check what you entered.',
  unauthorized: 'Your session is no longer valid. Please log in again.',
  forbidden: 'You are not allowed to do that here.',
  blocked: 'You cannot message this person: one of you has blocked the other.',
  account_deactivated: 'This account has been deactivated. Contact the administrator of this server.',
  not_found: 'That no longer exists, or you are not a member any more.',
  conflict: 'That conflicts with something that already exists.',
  payload_too_large: 'That is too large.',
  unsupported_media_type: 'That kind of content is not supported.',
  rate_limited: 'You are going a bit fast. Please wait a moment and try again.',
  internal: 'Something went wrong on the server. Please try again.',
  unavailable: 'The server is temporarily unavailable. Please try again in a moment.',
  network_error: 'Could not reach the server. Check your connection and try again.',
  timeout: 'The server took too long to answer. Please try again.',
  disconnected: 'The connection dropped. Please try again.',
  aborted: 'Cancelled.',
  upload_failed: 'The file storage refused the upload.',
  http_error: 'The server answered with an error.',
};

/** Server messages that are written for people (not a schema path or an internal detail). */
function humanServerMessage(message: string): boolean {
  return message.length > 0 && message.length < 160 && !/(^|\s)(body|query|params|querystring)\/|must (be|have|match|NOT)|^\//.test(message);
}

/** What went wrong, in words a user understands. */
export function humanError(err: unknown): string {
  if (err instanceof UploadError) return uploadErrorText(err);
  if (err instanceof ParleyError) {
    if (err.code === 'rate_limited' && err.retryAfter) return `You are going a bit fast. Please try again in ${Math.ceil(err.retryAfter)} s.`;
    const base = ERROR_TEXT[err.code] ?? ERROR_TEXT.http_error!;
    // Conflicts and validation of user input carry the useful part (e.g. "username taken").
    if ((err.code === 'conflict' || err.code === 'invalid_request') && humanServerMessage(err.message)) return err.message;
    return base;
  }
  if (err instanceof TypeError) return ERROR_TEXT.network_error!;
  return err instanceof Error && humanServerMessage(err.message) ? err.message : 'Something went wrong. Please try again.';
}

function uploadErrorText(err: UploadError): string {
  if (err.step === 'upload') {
    if (err.code === 'aborted') return ERROR_TEXT.aborted!;
    if (err.code === 'network_error') {
      return 'Could not reach the file storage. If this server keeps files on another address, its CORS settings must allow this page (see the README, "Media storage and CORS").';
    }
    if (err.status === 403) return 'The file storage refused the upload (403: the upload link was rejected or has expired). Please try again.';
    if (err.status === 413) return 'The file storage refused the upload: the file is too large for it.';
    return `The file storage refused the upload (${err.status || 'no answer'}). Please try again later.`;
  }
  if (err.code === 'payload_too_large') return 'This file is too large to upload here.';
  if (err.code === 'invalid_request' && /size/.test(err.message)) return 'This file is empty (0 bytes), so there is nothing to upload.';
  if (err.code === 'invalid_request') return 'This file cannot be uploaded (its type or name was not accepted).';
  if (err.code === 'unsupported_media_type') return 'This kind of file is not accepted here.';
  return ERROR_TEXT[err.code] ?? `The upload failed (${err.status}).`;
}
