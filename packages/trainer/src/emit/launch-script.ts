import type { LaunchArgs } from './launch-args';
import { shellWord } from './shell-word';

/** A `${NAME}` reference, which the script means to expand (the DATA_PATH, … placeholders). */
const VAR_REF = /\$\{[A-Za-z_]\w*\}/;

/**
 * One argument as a bash word that yields exactly one argument. One with `${NAME}` references is
 * double-quoted, so they expand but the value is not split at spaces nor globbed (a CKPT_SAVE_DIR with
 * a space stays one --save path); every other `$`, `"`, `\` and backtick in it is escaped. Anything
 * else is a literal shellWord (plain, or single-quoted: `{a,b}` in a path is not brace-expanded).
 */
const quote = (a: string) => {
  if (VAR_REF.test(a)) return `"${a.replace(/[\\"`]|\$(?!\{[A-Za-z_]\w*\})/g, (c) => `\\${c}`)}"`;
  return shellWord(a);
};

/**
 * A bash launch script for one node of the job: environment (CANN on Ascend), torchrun over the
 * node's devices, and the argument groups. Engine-specific caveats are printed as comments at the
 * top so nobody launches a run believing it is MoGE when the engine routes otherwise.
 */
export function renderLaunchScript(l: LaunchArgs): string {
  const ascend = l.engine === 'mindspeed';
  const lines: string[] = [
    '#!/usr/bin/env bash',
    `# ${ascend ? 'MindSpeed-LLM (Ascend NPU)' : 'Megatron-LM (NVIDIA GPU)'} launch written by \`moge train --emit ${l.engine}\`.`,
    `# World size ${l.worldSize} = ${l.nodes} node(s) × ${l.devicesPerNode} device(s). Run this script on every node with NODE_RANK set.`,
  ];
  if (l.notes.length > 0) {
    lines.push('#', '# How the plan is expressed in this engine:');
    for (const n of l.notes) lines.push(`#  - ${n}`);
  }
  if (l.unsupported.length > 0) {
    lines.push('#', '# NOT EXPRESSIBLE in this engine (read before launching):');
    for (const u of l.unsupported) lines.push(`#  - ${u}`);
  }
  lines.push('set -euo pipefail', '');
  if (ascend) {
    // CANN's set_env.sh appends to variables that may be unset (LD_LIBRARY_PATH, PYTHONPATH, …): source it with nounset off.
    lines.push('set +u', 'source /usr/local/Ascend/ascend-toolkit/set_env.sh', 'set -u', 'export HCCL_CONNECT_TIMEOUT=1200', 'export CUDA_DEVICE_MAX_CONNECTIONS=1');
  } else {
    lines.push('export CUDA_DEVICE_MAX_CONNECTIONS=1', 'export NCCL_NVLS_ENABLE=0');
  }
  lines.push(
    `NNODES=\${NNODES:-${l.nodes}}`,
    `DEVICES_PER_NODE=\${DEVICES_PER_NODE:-${l.devicesPerNode}}`,
    'NODE_RANK=${NODE_RANK:-0}',
    'MASTER_ADDR=${MASTER_ADDR:-localhost}',
    'MASTER_PORT=${MASTER_PORT:-6000}',
    `: "\${DATA_PATH:?set DATA_PATH to the preprocessed dataset prefix}"`,
    `: "\${TOKENIZER_PATH:?set TOKENIZER_PATH to the HF tokenizer directory}"`,
    `: "\${CKPT_SAVE_DIR:?set CKPT_SAVE_DIR}"`,
    '',
    'DISTRIBUTED_ARGS=(--nproc_per_node "$DEVICES_PER_NODE" --nnodes "$NNODES" --node_rank "$NODE_RANK" --master_addr "$MASTER_ADDR" --master_port "$MASTER_PORT")',
  );
  for (const g of l.groups) {
    lines.push(`${g.name}=(`);
    // One flag per line, with its values (a flag may take several, e.g. --recompute-modules).
    let line: string[] = [];
    for (const a of g.args) {
      if (a.startsWith('--') && line.length > 0) {
        lines.push(`  ${line.join(' ')}`);
        line = [];
      }
      line.push(a.startsWith('--') ? a : quote(a));
    }
    if (line.length > 0) lines.push(`  ${line.join(' ')}`);
    lines.push(')');
  }
  lines.push('', `torchrun "\${DISTRIBUTED_ARGS[@]}" pretrain_gpt.py \\`);
  lines.push(l.groups.map((g) => `  "\${${g.name}[@]}"`).join(' \\\n'));
  return `${lines.join('\n')}\n`;
}

/** The flat argument list (what a launcher like torchrun passes to pretrain_gpt.py). */
export function flatArgs(l: LaunchArgs): string[] {
  return l.groups.flatMap((g) => g.args);
}
