/**
 * The program of an evaluation worker process (started by lib/eval/pool.ts): initialises the
 * parent's backend, opens the plan's dataset and networks, then evaluates the videos the parent
 * sends, one at a time, answering each with its record (or the error's one line).
 */
import { useBackend, type BackendName } from '../runtime';
import { EvalDataset } from './dataset';
import type { FromWorker, ToWorker } from './pool';
import { openEvaluator } from './run';

const send = (m: FromWorker) => process.send!(m);
const message = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0];

let evaluator: ReturnType<typeof openEvaluator> | null = null;

process.on('message', (m: ToWorker) => {
  void (async () => {
    try {
      if (m.type === 'init') {
        await useBackend(m.plan.backend as BackendName);
        evaluator = openEvaluator(m.plan, EvalDataset.open(m.plan.dataset), (line) => send({ type: 'log', line }));
        send({ type: 'ready' });
      } else if (m.type === 'video') {
        send({ type: 'done', index: m.index, record: await evaluator!.evaluate(m.index) });
      } else {
        evaluator?.dispose();
        process.disconnect();
      }
    } catch (e) {
      send({ type: 'failed', message: message(e) });
      // A worker that could not start has nothing more to do.
      if (m.type === 'init') process.exit(1);
    }
  })();
});
// The parent is gone (or closed the channel): nothing more will come.
process.on('disconnect', () => process.exit(0));
