import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MogeError, ValidationError } from '@moge/core';
import { BlockManager } from './block-manager';

/**
 * Model-based tests: a model keeps each sequence's tokens; the real side is a BlockManager plus a fake
 * device memory (block → slot values) written exactly as a cache kernel would, following the returned
 * slots and copy-on-write instructions. After every command, reading a sequence through its block table
 * must give back its own tokens, and the manager's bookkeeping must be consistent.
 */
interface Model {
  seqs: Map<string, number[]>;
}
interface Real {
  bm: BlockManager;
  memory: Map<number, number[]>;
  nextToken: number;
}

function checkInvariants(bm: BlockManager) {
  const snap = bm.snapshot();
  const freeSet = new Set(snap.free);
  expect(freeSet.size).toBe(snap.free.length); // no block freed twice
  const counted = new Array<number>(bm.numBlocks).fill(0);
  for (const { blocks, numTokens } of Object.values(snap.tables)) {
    expect(blocks.length).toBe(Math.ceil(numTokens / bm.blockSize));
    expect(new Set(blocks).size).toBe(blocks.length);
    for (const b of blocks) counted[b]! += 1;
  }
  const used = counted.filter((c) => c > 0).length;
  expect(snap.free.length + used).toBe(bm.numBlocks); // free + used = total
  expect(bm.numFreeBlocks + bm.numUsedBlocks).toBe(bm.numBlocks);
  for (let b = 0; b < bm.numBlocks; b++) {
    expect(snap.refCounts[b]).toBe(counted[b]); // refcount = tables holding the block
    expect(freeSet.has(b)).toBe(counted[b] === 0); // free exactly when unreferenced
  }
}

function checkContents(m: Model, r: Real) {
  expect(new Set(r.bm.sequences())).toEqual(new Set(m.seqs.keys()));
  for (const [id, tokens] of m.seqs) {
    const table = r.bm.blockTable(id);
    const read = tokens.map((_, i) => r.memory.get(table[Math.floor(i / r.bm.blockSize)]!)?.[i % r.bm.blockSize]);
    expect(read).toEqual(tokens);
  }
}

function expectUnchanged(r: Real, before: ReturnType<BlockManager['snapshot']>, run: () => unknown) {
  expect(run).toThrow(MogeError);
  expect(r.bm.snapshot()).toEqual(before);
}

const ids = ['a', 'b', 'c', 'd', 'e'];

class Allocate implements fc.Command<Model, Real> {
  constructor(readonly id: string, readonly tokens: number) {}
  check = (m: Readonly<Model>) => !m.seqs.has(this.id);
  run(m: Model, r: Real) {
    const need = r.bm.blocksForTokens(this.tokens);
    if (need > r.bm.numFreeBlocks) return expectUnchanged(r, r.bm.snapshot(), () => r.bm.allocate(this.id, this.tokens));
    const table = r.bm.allocate(this.id, this.tokens);
    const tokens = Array.from({ length: this.tokens }, () => r.nextToken++);
    tokens.forEach((t, i) => {
      const block = table[Math.floor(i / r.bm.blockSize)]!;
      const slots = r.memory.get(block) ?? [];
      slots[i % r.bm.blockSize] = t;
      r.memory.set(block, slots);
    });
    m.seqs.set(this.id, tokens);
    checkInvariants(r.bm);
    checkContents(m, r);
  }
  toString = () => `allocate(${this.id}, ${this.tokens})`;
}

class Append implements fc.Command<Model, Real> {
  constructor(readonly id: string) {}
  check = (m: Readonly<Model>) => m.seqs.has(this.id);
  run(m: Model, r: Real) {
    if (!r.bm.canAppendSlot(this.id)) return expectUnchanged(r, r.bm.snapshot(), () => r.bm.appendSlot(this.id));
    const { block, offset, copy } = r.bm.appendSlot(this.id);
    if (copy) r.memory.set(copy.to, [...(r.memory.get(copy.from) ?? [])]);
    const slots = offset === 0 ? [] : (r.memory.get(block) ?? []);
    slots[offset] = r.nextToken;
    r.memory.set(block, slots);
    m.seqs.get(this.id)!.push(r.nextToken++);
    checkInvariants(r.bm);
    checkContents(m, r);
  }
  toString = () => `append(${this.id})`;
}

class Fork implements fc.Command<Model, Real> {
  constructor(readonly parent: string, readonly child: string) {}
  check = (m: Readonly<Model>) => m.seqs.has(this.parent) && !m.seqs.has(this.child);
  run(m: Model, r: Real) {
    r.bm.fork(this.parent, this.child);
    m.seqs.set(this.child, [...m.seqs.get(this.parent)!]);
    checkInvariants(r.bm);
    checkContents(m, r);
  }
  toString = () => `fork(${this.parent} → ${this.child})`;
}

class Free implements fc.Command<Model, Real> {
  constructor(readonly id: string) {}
  check = (m: Readonly<Model>) => m.seqs.has(this.id);
  run(m: Model, r: Real) {
    r.bm.free(this.id);
    m.seqs.delete(this.id);
    expectUnchanged(r, r.bm.snapshot(), () => r.bm.free(this.id)); // a second free is refused
    checkInvariants(r.bm);
    checkContents(m, r);
  }
  toString = () => `free(${this.id})`;
}

const id = fc.constantFrom(...ids);
const commands = [
  fc.tuple(id, fc.integer({ min: 0, max: 20 })).map(([i, n]) => new Allocate(i, n)),
  id.map((i) => new Append(i)),
  id.map((i) => new Append(i)),
  fc.tuple(id, id).map(([p, c]) => new Fork(p, c)),
  id.map((i) => new Free(i)),
];

describe('BlockManager (model-based)', () => {
  it('never loses, leaks or double-frees a block, and copy-on-write keeps every sequence its own tokens', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 4 }), fc.commands(commands, { maxCommands: 60 }), (numBlocks, blockSize, cmds) => {
        const real: Real = { bm: new BlockManager({ numBlocks, blockSize }), memory: new Map(), nextToken: 0 };
        fc.modelRun(() => ({ model: { seqs: new Map() }, real }), cmds);
      }),
      { numRuns: 300 },
    );
  });
});

describe('BlockManager', () => {
  it('respects the watermark in canAllocate (vLLM semantics) but allocate only needs free blocks', () => {
    const bm = new BlockManager({ numBlocks: 100, blockSize: 16, watermark: 0.1 });
    expect(bm.watermarkBlocks).toBe(10);
    expect(bm.canAllocate(90 * 16)).toBe('ok');
    expect(bm.canAllocate(91 * 16)).toBe('never');
    bm.allocate('x', 50 * 16);
    expect(bm.canAllocate(40 * 16)).toBe('ok');
    expect(bm.canAllocate(41 * 16)).toBe('later');
    bm.allocate('y', 45 * 16); // the scheduler asks canAllocate first; allocate itself only checks free blocks
    expect(bm.numFreeBlocks).toBe(5);
  });

  it('copies a shared partial block on the first append and not after', () => {
    const bm = new BlockManager({ numBlocks: 8, blockSize: 4, watermark: 0 });
    bm.allocate('p', 6); // blocks 0 (full), 1 (2 of 4)
    bm.fork('p', 'c');
    expect(bm.refCount(1)).toBe(2);
    const first = bm.appendSlot('c');
    expect(first).toEqual({ block: 2, offset: 2, copy: { from: 1, to: 2 } });
    expect(bm.refCount(1)).toBe(1);
    expect(bm.appendSlot('c')).toEqual({ block: 2, offset: 3 });
    expect(bm.appendSlot('p')).toEqual({ block: 1, offset: 2 });
    expect(bm.blockTable('c')).toEqual([0, 2]);
    expect(bm.refCount(0)).toBe(2); // the full prefix block stays shared
  });

  it('names the bad option, and refuses unknown sequences and exhausted caches without changing state', () => {
    expect(() => new BlockManager({ numBlocks: 0, blockSize: 16 })).toThrow(ValidationError);
    expect(() => new BlockManager({ numBlocks: 4, blockSize: 16, watermark: 1 })).toThrow(/watermark/);
    // A misspelt option is refused by name rather than replaced by its default.
    expect(() => new BlockManager({ numBlocks: 4, blockSize: 16, waterMark: 0.5 } as never)).toThrow(/waterMark/);
    const bm = new BlockManager({ numBlocks: 2, blockSize: 2, watermark: 0 });
    expect(() => bm.appendSlot('nope')).toThrow(/has no blocks/);
    bm.allocate('a', 4);
    expect(() => bm.allocate('b', 1)).toThrow(/needs 1 free blocks, 0 of 2 free/);
    expect(() => bm.allocate('a', 1)).toThrow(/already has blocks/);
    expect(bm.numFreeBlocks).toBe(0);
  });

  it('refuses a token count that is not a non-negative integer in canAllocate and blocksForTokens, as allocate does', () => {
    const bm = new BlockManager({ numBlocks: 4, blockSize: 4, watermark: 0 });
    for (const bad of [-100, -1, 2.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      // A negative count used to answer 'ok' (−25 blocks needed), NaN 'later', 2.5 'ok'.
      expect(() => bm.canAllocate(bad)).toThrow(/numTokens: got/);
      expect(() => bm.blocksForTokens(bad)).toThrow(/numTokens: got/);
      expect(() => bm.allocate('x', bad)).toThrow(/numTokens: got/);
    }
    expect(bm.snapshot().tables).toEqual({});
    expect(bm.canAllocate(0)).toBe('ok');
    expect(bm.canAllocate(16)).toBe('ok');
    expect(bm.canAllocate(17)).toBe('never');
  });
});
