// chalk: styles at a fixed colour level (the output does not depend on the
// terminal), nesting, hex colours.
import { Chalk } from 'chalk';

const chalk = new Chalk({ level: 3 });
const basic = new Chalk({ level: 1 });

export default {
  styled: chalk.bold.red('error') + ' ' + chalk.bgBlue.white.underline('note'),
  nested: chalk.green(`ok ${chalk.italic('fine')} done`),
  hex: chalk.hex('#ff8800')('orange'),
  basic: basic.hex('#ff8800')('downsampled'),
  none: new Chalk({ level: 0 }).red('plain'),
};
