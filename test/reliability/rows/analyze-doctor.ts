/** `propainter analyze` and `doctor` read no user files: their options and backend errors are one line too. */
import { availableNativeFlavours } from '../../../lib/runtime';
import type { HostileRow } from '../harness';

export const rows: HostileRow[] = [
  { command: 'doctor', name: '--backend that does not exist', args: () => ['doctor', '--backend', 'foo'], error: () => /^backend "foo" is not a backend; use one of tensorflow, wasm, cpu$/ },
  {
    command: 'doctor',
    name: '--backend tensorflow without tfjs-node installed',
    unavailable: () => (availableNativeFlavours().length ? `${availableNativeFlavours().join(', ')} is installed here` : undefined),
    args: () => ['doctor', '--backend', 'tensorflow'],
    error: () => /^backend "tensorflow" requested but neither @tensorflow\/tfjs-node-gpu nor @tensorflow\/tfjs-node is installed/,
  },
  { command: 'analyze', name: 'an unknown --model', args: () => ['analyze', '--model', '../../x'], error: () => /^unknown model "\.\.\/\.\.\/x"; valid models: / },
  { command: 'analyze', name: 'a malformed --size', args: () => ['analyze', '--model', 'raft', '--size', '1e9x-5'], error: () => /^invalid --size "1e9x-5": expected HEIGHTxWIDTH/ },
  { command: 'analyze', name: 'a negative --frames', args: () => ['analyze', '--model', 'flowcomp', '--frames', '-3'], error: () => /^--frames must be a non-negative integer, got "-3"$/ },
  { command: 'analyze', name: '--backend that does not exist', args: () => ['analyze', '--model', 'raft', '--backend', 'foo'], error: () => /^backend "foo" is not a backend/ },
];
