export { RAFT, raftBi, loadRaft, upsampleFlow, coordsGrid, checkRaftSize, defaultPairChunk, RAFT_DEFAULT_ITERS, RAFT_MIN_SIZE, DEFAULT_RAFT_WEIGHTS } from './raft';
export type { RaftOptions, RaftBiOptions, RaftDebug } from './raft';
export { CorrPyramid, CORR_LEVELS, CORR_RADIUS } from './corr';
export { BasicEncoder, ResidualBlock } from './extractor';
export { BasicUpdateBlock, BasicMotionEncoder, SepConvGRU, FlowHead } from './update';
