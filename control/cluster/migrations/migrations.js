import journal from './meta/_journal.json';
import m0000 from './0000_cluster.sql';
import m0001 from './0001_marathon.sql';
import m0002 from './0002_metronome.sql';
import m0003 from './0003_health.sql';
import m0004 from './0004_history.sql';
import m0005 from './0005_wave2.sql';
import m0006 from './0006_agent_roles.sql';
import m0007 from './0007_agent_allowances.sql';
import m0008 from './0008_secrets.sql';
import m0009 from './0009_framework_rows.sql';
import m0010 from './0010_framework_task_rows.sql';
import m0011 from './0011_tasks_group_live.sql';

  export default {
    journal,
    migrations: {
      m0000,
m0001,
m0002,
m0003,
m0004,
m0005,
m0006,
m0007,
m0008,
m0009,
m0010,
m0011
    }
  }
  