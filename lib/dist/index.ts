/**
 * Multi-process (data-parallel) runs over MPI: the communicator, joining and launching jobs,
 * bucketed tensor exchange. See docs/distributed.md.
 */
export { type Communicator, type CommunicatorKind, SingleProcess, broadcastBytes, agreeToStop } from './communicator';
export { type Placement, type LauncherKind, detectPlacement } from './placement';
export { type JoinOptions, joinJob, gpuForRank, launcherAskedToStop, LAUNCH_MARKER } from './join';
export { type LaunchOptions, type Mpiexec, launchRanks, findMpiexec, mpiexecArgs } from './launch';
export { type JobOptions, runJob } from './job';
export { type Bucket, type BucketOptions, planBuckets, allreduceMeanTensors, broadcastTensors, DEFAULT_BUCKET_FLOATS } from './buckets';
export { type MpiFlavour, MPI_FLAVOURS } from './mpi';
