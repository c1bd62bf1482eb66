import type { Kysely } from 'kysely';
import type { Logger } from '../ops/logger.ts';
import type { Database } from '../store/schema.ts';
import { calibrateThresholds, PRESET_SHARES, type PresetThresholds } from './auto/thresholds.ts';

/**
 * RouteLLM's calibration on live traffic: the operator names the share of `auto` requests that should go
 * to the deep tier (for the balanced preset), and the thresholds are recomputed from the router scores the
 * usage records keep, newest first. `cheapest` and `quality` keep their documented relation to balanced:
 * 0.4x and 2x the deep share (at most 0.9), with their default utility shares.
 */
export interface CalibrationTarget {
  deepShare: number;
  sampleSize: number;
  /** Fewer scores than this: keep the current thresholds. */
  minSample: number;
}

export function thresholdsForTarget(scores: ArrayLike<number>, deepShare: number): PresetThresholds {
  const shares = {
    cheapest: { deepShare: deepShare * 0.4, utilityShare: PRESET_SHARES.cheapest.utilityShare },
    balanced: { deepShare, utilityShare: PRESET_SHARES.balanced.utilityShare },
    quality: { deepShare: Math.min(0.9, deepShare * 2), utilityShare: PRESET_SHARES.quality.utilityShare },
  };
  const out = {} as PresetThresholds;
  for (const [preset, share] of Object.entries(shares) as Array<[keyof PresetThresholds, typeof shares.balanced]>) {
    out[preset] = calibrateThresholds(scores, {
      deepShare: share.deepShare,
      utilityShare: Math.min(share.utilityShare, 1 - share.deepShare),
    });
  }
  return out;
}

/**
 * The newest router scores of learned `auto` decisions in the usage records; with `chooser`, only that
 * chooser's (its name, e.g. `learned-v5`): after the operator switches routers, the old one's scores would
 * calibrate the new one's thresholds on a slightly different scale.
 */
export async function recentRouterScores(db: Kysely<Database>, limit: number, chooser?: string): Promise<number[]> {
  let query = db.selectFrom('usage_record').select('router_score').where('router_score', 'is not', null);
  if (chooser !== undefined) {
    query = query.where('chooser_id', 'in', db.selectFrom('usage_dim').select('id').where('value', '=', chooser));
  }
  const rows = await query.orderBy('at', 'desc').limit(limit).execute();
  return rows.map((row) => row.router_score as number);
}

/** Recomputes thresholds from the usage records; undefined when there is not enough traffic yet. */
export async function calibrateFromUsage(
  db: Kysely<Database>,
  target: CalibrationTarget,
  logger: Logger,
  chooser?: string,
): Promise<PresetThresholds | undefined> {
  const scores = await recentRouterScores(db, target.sampleSize, chooser);
  if (scores.length < target.minSample) {
    logger.info({ scores: scores.length, needed: target.minSample }, 'auto calibration: not enough traffic yet');
    return undefined;
  }
  const thresholds = thresholdsForTarget(scores, target.deepShare);
  logger.info(
    { scores: scores.length, deepShare: target.deepShare, thresholds },
    'auto calibration: thresholds updated',
  );
  return thresholds;
}
