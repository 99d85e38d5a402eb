// What Apache Kafka 4.3.1 says about broker config values: regenerates
// kafka-4.3.1-broker-config-verdicts.tsv, which tests/broker_config.rs holds Sluice to.
//
// Each input line is one case, "key=value" or several joined by " ;; ". Each is added to a
// minimal KRaft combined-mode config and checked the way a starting Kafka broker checks it
// (KafkaConfig.fromProps, then LogManager's LogConfig.validateBrokerLogConfigValues and
// new LogConfig, and CleanerConfig); `kafka-storage format` and the broker itself fail with the
// same message. Output: "case<TAB>OK" or "case<TAB>ERR<TAB>ExceptionClass<TAB>message".
//
//   CP="compat-tests/kafka-ref/work/lib/*"   # after compat-tests/kafka-ref/run.sh start once
//   javac -d /tmp/verdicts -cp "$CP" crates/server/tests/data/BrokerConfigVerdicts.java
//   cut -f1 crates/server/tests/data/kafka-4.3.1-broker-config-verdicts.tsv \
//     | java -cp "$CP:/tmp/verdicts" BrokerConfigVerdicts 2>/dev/null > new.tsv
import kafka.server.KafkaConfig;
import org.apache.kafka.storage.internals.log.CleanerConfig;
import org.apache.kafka.storage.internals.log.LogConfig;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.util.Map;
import java.util.Properties;

public class BrokerConfigVerdicts {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        String line;
        while ((line = in.readLine()) != null) {
            if (line.isBlank()) continue;
            Properties p = new Properties();
            p.put("process.roles", "broker,controller");
            p.put("node.id", "1");
            p.put("controller.quorum.voters", "1@localhost:9093");
            p.put("listeners", "PLAINTEXT://:9092,CONTROLLER://:9093");
            p.put("controller.listener.names", "CONTROLLER");
            p.put("log.dirs", "/tmp/verdicts-logs");
            for (String kv : line.split(" ;; ")) {
                int i = kv.indexOf('=');
                p.put(kv.substring(0, i), kv.substring(i + 1));
            }
            String verdict;
            try {
                KafkaConfig config = KafkaConfig.fromProps(p, false);
                Map<String, Object> defaults = config.extractLogConfigMap();
                LogConfig.validateBrokerLogConfigValues(defaults, false);
                new LogConfig(defaults);
                new CleanerConfig(config);
                verdict = "OK";
            } catch (Throwable e) {
                verdict = "ERR\t" + e.getClass().getSimpleName() + "\t" + e.getMessage();
            }
            System.out.println(line + "\t" + verdict);
        }
    }
}
