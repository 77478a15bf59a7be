import { packageBuild } from '../../tsup.shared.ts';

export default packageBuild({ index: 'src/index.ts', node: 'src/node.ts', 'train-worker': 'src/loop/train-worker.ts' });
