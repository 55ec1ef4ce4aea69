/**
 * Control-plane errors as the service sends them: an HTTP status, the error type carried in
 * `X-Amzn-ErrorType`, and `{"message": ...}`. The types are the ones the Roles Anywhere API
 * declares (AccessDeniedException, ResourceNotFoundException, ValidationException,
 * TooManyTagsException) plus the SigV4 authentication errors every AWS REST-JSON service
 * answers with (https://docs.aws.amazon.com/rolesanywhere/latest/APIReference/CommonErrors.html).
 */
export type ControlErrorType =
  | 'AccessDeniedException'
  | 'ResourceNotFoundException'
  | 'ValidationException'
  | 'TooManyTagsException'
  | 'SerializationException'
  | 'UnknownOperationException'
  | 'MissingAuthenticationTokenException'
  | 'UnrecognizedClientException'
  | 'IncompleteSignatureException'
  | 'SignatureDoesNotMatch';

export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
  constructor(
    readonly status: number,
    readonly errorType: ControlErrorType,
    message: string,
  ) {
    super(message.replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 600));
  }
}

export const validation = (m: string): ControlPlaneError => new ControlPlaneError(400, 'ValidationException', m);
export const notFound = (m: string): ControlPlaneError => new ControlPlaneError(404, 'ResourceNotFoundException', m);

/** Echoes client-supplied text in a message: bounded, printable. */
export function shown(v: string, max = 80): string {
  const flat = v.replace(/[^\x20-\x7e]/g, '?');
  return flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}
