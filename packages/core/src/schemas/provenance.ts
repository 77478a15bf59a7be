import { z } from 'zod';

/** Where a hardware number or published figure came from. Assumed numbers are allowed, silent ones are not. */
export const ProvenanceSchema = z.object({
  source: z.string().min(1),
  confidence: z.enum(['measured', 'published', 'assumed']),
});
export type Provenance = z.infer<typeof ProvenanceSchema>;

/** A number together with its provenance. */
export const SourcedNumberSchema = z.object({ value: z.number() }).extend(ProvenanceSchema.shape);
export type SourcedNumber = z.infer<typeof SourcedNumberSchema>;

export function sourced(value: number, source: string, confidence: Provenance['confidence']): SourcedNumber {
  return { value, source, confidence };
}
