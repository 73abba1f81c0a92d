/** The MySQL listener: what `sluice serve` starts. */
export {
  startMysqlListener,
  type MysqlListener,
  type MysqlListenerOptions,
  type MysqlListenerParts,
} from './listener.js';
