import { z } from 'zod';
import { MogeError, parseWith } from '@moge/core';

// Strict: a misspelt key (say `waterMark`) would otherwise be dropped and its default used silently.
export const BlockManagerOptionsSchema = z.strictObject({
  /** KV blocks on the device (e.g. InferenceMemoryEstimate.numBlocks). */
  numBlocks: z.number().int().positive(),
  /** Tokens per block. */
  blockSize: z.number().int().positive(),
  /**
   * Fraction of blocks new sequences may not take, kept for running sequences to grow into (vLLM's
   * watermark, default 0.01), so admitting a prompt does not immediately force a preemption.
   */
  watermark: z.number().min(0).lt(1).default(0.01),
});
export type BlockManagerOptions = z.output<typeof BlockManagerOptionsSchema>;
export type BlockManagerOptionsInput = z.input<typeof BlockManagerOptionsSchema>;

/** vLLM's AllocStatus: admit now, admit after others free blocks, or never (larger than the cache minus the watermark). */
export type AllocStatus = 'ok' | 'later' | 'never';

/** Where the appended token's KV goes, and the copy-on-write the caller must perform first (if any). */
export interface AppendResult {
  block: number;
  offset: number;
  /** Copy every filled slot of block `from` into block `to` before writing (the last block was shared). */
  copy?: { from: number; to: number };
}

export interface BlockManagerSnapshot {
  free: number[];
  refCounts: number[];
  tables: Record<string, { blocks: number[]; numTokens: number }>;
}

interface SeqState {
  blocks: number[];
  numTokens: number;
}

/**
 * Paged KV-cache block manager with vLLM semantics (vLLM v0 `BlockSpaceManager`): sequences own block
 * tables; `fork` shares the parent's blocks by reference count (parallel sampling, beam search, shared
 * prefixes); the first append into a shared partial block copies it (copy-on-write). Every method
 * validates before it mutates, so a thrown error leaves the manager unchanged.
 */
export class BlockManager {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly watermarkBlocks: number;
  private readonly refCounts: Int32Array;
  /** Free blocks as a stack; lowest ids are handed out first. */
  private readonly freeList: number[];
  private readonly seqs = new Map<string, SeqState>();

  constructor(options: BlockManagerOptionsInput) {
    const o = parseWith(BlockManagerOptionsSchema, options, 'block manager options');
    this.numBlocks = o.numBlocks;
    this.blockSize = o.blockSize;
    this.watermarkBlocks = Math.floor(o.watermark * o.numBlocks);
    this.refCounts = new Int32Array(o.numBlocks);
    this.freeList = Array.from({ length: o.numBlocks }, (_, i) => o.numBlocks - 1 - i);
  }

  get numFreeBlocks(): number {
    return this.freeList.length;
  }

  /** Blocks referenced by at least one sequence (a shared block counts once). */
  get numUsedBlocks(): number {
    return this.numBlocks - this.freeList.length;
  }

  /** Blocks `numTokens` tokens take; refuses a count that is not a non-negative integer (no block count fits it). */
  blocksForTokens(numTokens: number): number {
    if (!Number.isInteger(numTokens) || numTokens < 0) {
      throw new MogeError('E_KV_BAD_TOKENS', `numTokens: got ${numTokens}, expected a non-negative integer`);
    }
    return Math.ceil(numTokens / this.blockSize);
  }

  /** vLLM's can_allocate: a prompt of `numTokens` may take blocks only while the watermark stays free. */
  canAllocate(numTokens: number): AllocStatus {
    const required = this.blocksForTokens(numTokens);
    if (this.numBlocks - required < this.watermarkBlocks) return 'never';
    return this.freeList.length - required >= this.watermarkBlocks ? 'ok' : 'later';
  }

  /** Gives a new sequence blocks for its first `numTokens` tokens; returns its block table. */
  allocate(seqId: string, numTokens: number): readonly number[] {
    if (this.seqs.has(seqId)) throw new MogeError('E_KV_DUPLICATE_SEQ', `sequence ${JSON.stringify(seqId)} already has blocks`);
    const required = this.blocksForTokens(numTokens);
    this.requireFree(required, `allocate ${numTokens} tokens for ${JSON.stringify(seqId)}`);
    const blocks = Array.from({ length: required }, () => this.take());
    this.seqs.set(seqId, { blocks, numTokens });
    return blocks;
  }

  /** Free blocks one more token of `seqId` needs: 1 when its last block is full or shared, else 0. */
  blocksNeededToAppend(seqId: string): number {
    const seq = this.get(seqId);
    if (seq.numTokens % this.blockSize === 0) return 1;
    return this.refCounts[seq.blocks[seq.blocks.length - 1]!]! > 1 ? 1 : 0;
  }

  canAppendSlot(seqId: string): boolean {
    return this.blocksNeededToAppend(seqId) <= this.freeList.length;
  }

  /** Reserves the slot of the next token of `seqId` (decode step); see AppendResult for copy-on-write. */
  appendSlot(seqId: string): AppendResult {
    const seq = this.get(seqId);
    const offset = seq.numTokens % this.blockSize;
    if (offset === 0) {
      this.requireFree(1, `append to ${JSON.stringify(seqId)}`);
      const block = this.take();
      seq.blocks.push(block);
      seq.numTokens += 1;
      return { block, offset };
    }
    const last = seq.blocks.length - 1;
    const shared = seq.blocks[last]!;
    if (this.refCounts[shared]! === 1) {
      seq.numTokens += 1;
      return { block: shared, offset };
    }
    this.requireFree(1, `copy-on-write for ${JSON.stringify(seqId)}`);
    const block = this.take();
    this.refCounts[shared]! -= 1;
    seq.blocks[last] = block;
    seq.numTokens += 1;
    return { block, offset, copy: { from: shared, to: block } };
  }

  /** Makes `childId` share every block of `parentId` (reference counts go up; nothing is copied yet). */
  fork(parentId: string, childId: string): void {
    const parent = this.get(parentId);
    if (this.seqs.has(childId)) throw new MogeError('E_KV_DUPLICATE_SEQ', `sequence ${JSON.stringify(childId)} already has blocks`);
    for (const b of parent.blocks) this.refCounts[b]! += 1;
    this.seqs.set(childId, { blocks: [...parent.blocks], numTokens: parent.numTokens });
  }

  /** Drops a sequence; blocks nobody else references return to the free list. */
  free(seqId: string): void {
    const seq = this.get(seqId);
    this.seqs.delete(seqId);
    // Reverse order so a freshly freed sequence's first block is handed out first again (as vLLM does).
    for (let i = seq.blocks.length - 1; i >= 0; i--) {
      const b = seq.blocks[i]!;
      this.refCounts[b]! -= 1;
      if (this.refCounts[b] === 0) this.freeList.push(b);
    }
  }

  has(seqId: string): boolean {
    return this.seqs.has(seqId);
  }

  blockTable(seqId: string): readonly number[] {
    return [...this.get(seqId).blocks];
  }

  numTokens(seqId: string): number {
    return this.get(seqId).numTokens;
  }

  refCount(block: number): number {
    if (!Number.isInteger(block) || block < 0 || block >= this.numBlocks) {
      throw new MogeError('E_KV_BAD_BLOCK', `block: got ${block}, expected an integer in [0, ${this.numBlocks})`);
    }
    return this.refCounts[block]!;
  }

  sequences(): string[] {
    return [...this.seqs.keys()];
  }

  /** A copy of the whole state, for tests, debugging and metrics. */
  snapshot(): BlockManagerSnapshot {
    const tables: BlockManagerSnapshot['tables'] = {};
    for (const [id, s] of this.seqs) tables[id] = { blocks: [...s.blocks], numTokens: s.numTokens };
    return { free: [...this.freeList], refCounts: Array.from(this.refCounts), tables };
  }

  private get(seqId: string): SeqState {
    const seq = this.seqs.get(seqId);
    if (!seq) throw new MogeError('E_KV_UNKNOWN_SEQ', `sequence ${JSON.stringify(seqId)} has no blocks`);
    return seq;
  }

  private requireFree(blocks: number, what: string): void {
    if (blocks > this.freeList.length) {
      throw new MogeError('E_KV_OUT_OF_BLOCKS', `cannot ${what}: needs ${blocks} free blocks, ${this.freeList.length} of ${this.numBlocks} free`);
    }
  }

  private take(): number {
    const b = this.freeList.pop()!;
    this.refCounts[b] = 1;
    return b;
  }
}
