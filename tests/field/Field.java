// A Java workload for the field tests: a pool of threads hashing, a large heap of objects, a
// shared map, the JVM's own threads (JIT compilers, GC, signal dispatcher), checkpointed while
// it runs. Progress to stderr; the result, printed at the end, to stdout. Deterministic.
import java.security.MessageDigest;
import java.util.*;
import java.util.concurrent.*;

public class Field {
    public static void main(String[] a) throws Exception {
        int rounds = Integer.parseInt(a[0]);
        ExecutorService pool = Executors.newFixedThreadPool(6);
        List<Future<String>> out = new ArrayList<>();
        for (int t = 0; t < 12; t++) {
            final int id = t;
            out.add(pool.submit(() -> {
                MessageDigest md = MessageDigest.getInstance("SHA-256");
                byte[] h = ("task" + id).getBytes();
                for (int i = 0; i < rounds; i++) h = md.digest(h);
                return HexFormat.of().formatHex(h);
            }));
        }
        TreeMap<Integer, long[]> heap = new TreeMap<>();
        long acc = 1;
        for (int i = 0; i < 12_000_000; i++) {
            long[] v = heap.computeIfAbsent(i % 200_003, k -> new long[8]);
            v[i % 8] += i;
            acc = (acc * 31 + v[(i + 3) % 8]) % 1_000_000_007L;
            if (i % 1_200_000 == 0) System.err.println("progress: " + i);
        }
        StringBuilder sb = new StringBuilder();
        for (Future<String> f : out) sb.append(f.get()).append('\n');
        pool.shutdown();
        System.out.print("heap " + heap.size() + " acc " + acc + "\n" + sb);
    }
}
