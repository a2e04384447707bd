/**
 * docs/config.md, generated from the config schema, the per-model defaults, the loss-term and
 * network registries and the guide's spellings (`npm run docs:config`; a test keeps it current).
 */
import { CONFIG_SCHEMA, SPELLINGS, MODELS } from './config';
import { Field, typeName } from './schema';
import { lossTerms } from '../losses/registry';
import { networkNames } from '../models/networks';

/** A table cell: pipes escaped, and <…> outside code spans (they would read as HTML). */
const cell = (s: string) =>
  s
    .replace(/\|/g, '\\|')
    .split('`')
    .map((part, i) => (i % 2 ? part : part.replace(/</g, '&lt;').replace(/>/g, '&gt;')))
    .join('`');

function defaultText(key: string, f: Field): string {
  const byModel = Object.entries(MODELS)
    .map(([m, spec]) => [m, (spec.defaults as Record<string, unknown>)[key]] as const)
    .filter(([, v]) => v !== undefined);
  if (byModel.length) return byModel.map(([m, v]) => `\`${JSON.stringify(v)}\` (${m})`).join(', ');
  const d = (f as { default?: unknown }).default;
  if (d === undefined) return f.optional ? '—' : '**required**';
  return d === '' ? '(see meaning)' : `\`${JSON.stringify(d)}\``;
}

/** One table per object of the schema, depth first. */
function sections(f: Field, key: string, out: string[]): void {
  if (f.kind !== 'object') return;
  const rows: string[] = [];
  const nested: Array<[string, Field]> = [];
  for (const [k, child] of Object.entries(f.fields)) {
    const path = key ? `${key}.${k}` : k;
    if (child.kind === 'object') {
      nested.push([path, child]);
      continue;
    }
    rows.push(`| \`${path}\` | ${cell(typeName(child))} | ${cell(defaultText(path, child))} | ${cell(child.doc)} |`);
  }
  if (f.extra) rows.push(`| \`${key}.*${f.extra.suffix}\` | ${cell(typeName(f.extra.field))} | per term, below | ${cell(`the ${f.extra.what} of a registered loss term`)} |`);
  out.push(`### \`${key || '(top level)'}\`${f.optional ? ' (optional)' : ''}`, '', f.doc.charAt(0).toUpperCase() + f.doc.slice(1) + '.', '');
  if (rows.length) out.push('| key | type | default | meaning |', '|---|---|---|---|', ...rows, '');
  for (const [p, child] of nested) sections(child, p, out);
}

export function configReference(): string {
  const out: string[] = [
    '# Training config reference',
    '',
    '<!-- Generated from lib/train/config.ts, lib/losses/terms and lib/models/networks.ts by `npm run docs:config`; do not edit. -->',
    '',
    '`propainter train -c CONFIG` and `Run.create(config)` take a JSON (or JSONC) object. Three spellings are accepted:',
    'the documented format below (`configs/*.json`), the training guide\'s blocks as written (table at the end), and',
    'the official repository\'s format (`train_data_loader`, `losses`, `model`, `trainer`: converted key by key; its',
    '`perceptual_weight` — LPIPSLoss in the official trainer — becomes `lpips_weight`). Unknown keys and wrong types',
    'are errors naming the key path; `--set key.path=value` overrides any key (JSON values). Relative paths are',
    'relative to the working directory. The resolved config is saved in the run folder (`config.json`) and in every',
    'checkpoint.',
    '',
    '## Keys',
    '',
  ];
  sections(CONFIG_SCHEMA, '', out);
  out.push('## Models', '', '| `model` | trains | loss terms |', '|---|---|---|');
  for (const [m, spec] of Object.entries(MODELS)) out.push(`| \`${m}\` | ${spec.title} | ${spec.losses} |`);
  out.push('', '## Loss terms', '', 'Weights are `loss.<key>`; a weight of 0 switches a term off (standard terms are then logged as 0).', '',
    '| term | model | weight key | default | logged as | what it is (inputs) |', '|---|---|---|---|---|---|');
  for (const t of lossTerms()) {
    const keys = [`\`${t.weightKey}\``, ...(t.aliases ?? []).map((a) => `\`${a}\` (alias)`)].join(', ');
    const model = Object.entries(MODELS).filter(([, s]) => s.losses === t.kind).map(([m]) => m).join(', ');
    out.push(`| ${t.name} | ${model} | ${keys} | ${t.defaultWeight} | \`${t.log}\` | ${cell(t.doc)} |`);
  }
  out.push('', '## Networks', '', '| role | config key | registered names |', '|---|---|---|');
  out.push(`| inpainting generator | \`networks.generator\` (propainter) | ${networkNames('generator').join(', ')} |`);
  out.push(`| flow completion | \`networks.generator\` (recurrent_flow_completion), \`networks.flow_net\` (propainter, frozen) | ${networkNames('flow_completion').join(', ')} |`);
  out.push(`| discriminator | \`networks.discriminator\` | ${[...networkNames('discriminator'), 'none'].join(', ')} |`);
  out.push('', '## Other spellings', '', 'The training guide\'s blocks use these; they are normalised to the keys above.', '', '| written | means |', '|---|---|');
  for (const [k, v] of SPELLINGS) out.push(`| \`${cell(k)}\` | ${cell(v)} |`);
  out.push('');
  return out.join('\n');
}
