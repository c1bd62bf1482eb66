import { z } from 'zod';

/**
 * The `model` field of every inbound format, bounded at the edge: longer than any real model id, preset
 * suffix included, and short enough that an error message quoting it stays small.
 */
export const MODEL_NAME_MAX_CHARS = 256;

export const modelNameSchema = z.string().min(1).max(MODEL_NAME_MAX_CHARS);
