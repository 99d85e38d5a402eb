// Consumer throughput benchmark without a consumer group (Kafka's ConsumerPerformance always
// subscribes, i.e. needs the group protocol): assign() every partition of the topic,
// seekToBeginning(), poll until N records were received.
//
//   java -cp 'lib/*:classes' AssignConsumerPerf <bootstrap> <topic> <records> [timeout-seconds]
//
// Prints one line: "records=<n> bytes=<value+key bytes> seconds=<s> records_per_sec=<r> mb_per_sec=<m>"
// (MB = 1024*1024 bytes, as ProducerPerformance/ConsumerPerformance count them). The clock starts
// just before the first poll (after the partitions' metadata was fetched). Exit 1 if fewer than
// N records arrived within the timeout.
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

public final class AssignConsumerPerf {
  public static void main(String[] args) {
    String bootstrap = args[0];
    String topic = args[1];
    long want = Long.parseLong(args[2]);
    long timeoutMs = (args.length > 3 ? Long.parseLong(args[3]) : 600) * 1000L;
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
    p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    // The same fetch settings as ConsumerPerformance's defaults.
    p.put(ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, "1048576");
    p.put(ConsumerConfig.RECEIVE_BUFFER_CONFIG, "2097152");
    p.put(ConsumerConfig.CHECK_CRCS_CONFIG, "false");
    p.put(ConsumerConfig.CLIENT_ID_CONFIG, "assign-consumer-perf");
    long records = 0;
    long bytes = 0;
    long start;
    long end;
    try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p)) {
      List<TopicPartition> tps = new ArrayList<>();
      for (PartitionInfo pi : c.partitionsFor(topic)) {
        tps.add(new TopicPartition(topic, pi.partition()));
      }
      c.assign(tps);
      c.seekToBeginning(tps);
      start = System.nanoTime();
      long deadline = System.currentTimeMillis() + timeoutMs;
      while (records < want && System.currentTimeMillis() < deadline) {
        ConsumerRecords<byte[], byte[]> rs = c.poll(Duration.ofMillis(1000));
        for (ConsumerRecord<byte[], byte[]> r : rs) {
          records++;
          bytes += r.serializedValueSize() > 0 ? r.serializedValueSize() : 0;
          bytes += r.serializedKeySize() > 0 ? r.serializedKeySize() : 0;
        }
      }
      end = System.nanoTime();
    }
    double secs = (end - start) / 1e9;
    System.out.printf("records=%d bytes=%d seconds=%.3f records_per_sec=%.1f mb_per_sec=%.2f%n",
        records, bytes, secs, records / secs, bytes / 1048576.0 / secs);
    System.exit(records >= want ? 0 : 1);
  }
}
