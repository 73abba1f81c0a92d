import { GatewayError } from '../gateway/errors.js';

/**
 * The statement is refused because the policy forbids what it does with a masked column
 * (deriving values from it, or filtering on it). Carries SQLSTATE 42501 (insufficient_privilege)
 * for wire channels; the message names the column and the reason.
 */
export class MaskingRefusal extends GatewayError {
  constructor(message: string) {
    super('ERR_MASKING_REFUSED', message, { sqlstate: '42501' });
    this.name = 'MaskingRefusal';
  }
}
