/** Generator adversarial term (core/trainer.py): the discriminator's verdict on the composite. */
import { adversarialLoss } from '../generator';
import type { LossTerm } from '../registry';

export const adversarial: LossTerm<'generator'> = {
  name: 'adversarial',
  kind: 'generator',
  weightKey: 'adversarial_weight',
  defaultWeight: 0.01,
  log: 'loss/gan_loss',
  doc: 'GAN loss (loss.gan_type) of D(composite) as real, from the generator side; needs a discriminator (comp, D)',
  compute: ({ comp, discriminator }, ctx) => (discriminator ? adversarialLoss(ctx.options.gan_type, discriminator(comp), true, false) : null),
};
