/*
 * paperfs test/demo Solr launcher: a real Apache Solr 9 (from solr-test-framework)
 * in one JVM, for tests, development and demos. Not for production.
 *
 *   java -cp '<cache>/lib/*' solr/Launcher.java standalone|cloud \
 *        --configset config/solr/paperfs --base-dir DIR [options]
 *
 * standalone  one org.apache.solr.embedded.JettySolrRunner on 127.0.0.1 (HTTP API
 *             under /solr) with one core named by --collection, made from the
 *             configset (which is copied to <base-dir>/home/configsets/<name>, so
 *             more cores can be created with CoreAdmin CREATE&configSet=<name>).
 * cloud       org.apache.solr.cloud.MiniSolrCloudCluster: --nodes Solr nodes and an
 *             embedded ZooKeeper (chroot /solr); the configset is uploaded as
 *             <name> and a collection --shards x --replicas is created and waited for.
 *
 * Options:
 *   --configset DIR      configset folder (with conf/solrconfig.xml) [required]
 *   --base-dir DIR       work folder; must not exist or be empty (fresh per run) [required]
 *   --collection NAME    core / collection name (default paperfs)
 *   --configset-name N   name of the configset in Solr (default: folder name)
 *   --port N             standalone: HTTP port (default 0 = any free port)
 *   --nodes N            cloud: number of Solr nodes (default 2)
 *   --shards N           cloud: shards of the collection (default 2)
 *   --replicas N         cloud: replicas per shard (default 2)
 *   --solr-xml FILE      solr.xml (default: solr.xml beside this file)
 *   --log-config FILE    log4j2 config (default: log4j2.xml beside this file)
 *   --no-collection      start the server(s) without creating a core/collection
 *   --property K=V       core/collection property (repeatable), e.g.
 *                        --property paperfs.language=de
 *   --exit-on-eof        shut down when stdin reaches end of file (a test harness
 *                        keeps a pipe open; if it dies, Solr goes with it)
 *   --watch-pid PID      shut down when process PID exits
 *
 * When ready it prints one line to stdout and blocks:
 *   PAPERFS_SOLR_READY {"mode":"standalone","url":"http://127.0.0.1:PORT/solr",...}
 *   PAPERFS_SOLR_READY {"mode":"cloud","urls":[...],"zk_hosts":"127.0.0.1:PORT/solr",...}
 * On SIGTERM / SIGINT (or "shutdown" on stdin) it shuts everything down and exits 0.
 * If start-up fails it prints "PAPERFS_SOLR_FAILED {"error":...}" and exits 1.
 *
 * Commands on stdin, one per line (cloud), each answered by one stdout line
 * "PAPERFS_SOLR_EVENT {...}" (or PAPERFS_SOLR_ERROR {...}):
 *   stop-node N    stop node N (0-based, order of "urls"), keeping its port
 *   start-node N   start a stopped node N again on the same port
 *   status         list nodes and whether they run
 *   shutdown       shut down and exit 0
 * End of stdin is ignored (the launcher keeps running, so it may run with
 * stdin from /dev/null) unless --exit-on-eof is given.
 * A signal during start-up ends the JVM at once (exit 0, no READY line).
 */

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

public class Launcher {

  static final PrintStream OUT =
      new PrintStream(new java.io.FileOutputStream(java.io.FileDescriptor.out), true,
          StandardCharsets.UTF_8);

  /** Held so the level sticks (JUL keeps loggers weakly). */
  static final java.util.logging.Logger JUL_QUIET = java.util.logging.Logger.getLogger("org.glassfish");

  // ------------------------------------------------------------------ options

  static final class Options {
    String mode;
    Path configset;
    Path baseDir;
    String collection = "paperfs";
    String configsetName;
    int port = 0;
    int nodes = 2;
    int shards = 2;
    int replicas = 2;
    Path solrXml;
    Path logConfig;
    boolean createCollection = true;
    boolean exitOnEof = false;
    long watchPid = 0;
    Map<String, String> properties = new LinkedHashMap<>();
  }

  static Options parse(String[] args) {
    Options o = new Options();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (!a.startsWith("--")) {
        if (o.mode != null) throw new IllegalArgumentException("unexpected argument: " + a);
        o.mode = a;
        continue;
      }
      String value = null;
      int eq = a.indexOf('=');
      if (eq > 0) {
        value = a.substring(eq + 1);
        a = a.substring(0, eq);
      }
      if (a.equals("--no-collection")) {
        o.createCollection = false;
        continue;
      }
      if (a.equals("--exit-on-eof")) {
        o.exitOnEof = true;
        continue;
      }
      if (a.equals("--help")) {
        throw new IllegalArgumentException("help");
      }
      if (value == null) {
        if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
        value = args[++i];
      }
      switch (a) {
        case "--configset": o.configset = Paths.get(value); break;
        case "--base-dir": o.baseDir = Paths.get(value); break;
        case "--collection": o.collection = value; break;
        case "--configset-name": o.configsetName = value; break;
        case "--port": o.port = Integer.parseInt(value); break;
        case "--nodes": o.nodes = Integer.parseInt(value); break;
        case "--shards": o.shards = Integer.parseInt(value); break;
        case "--replicas": o.replicas = Integer.parseInt(value); break;
        case "--solr-xml": o.solrXml = Paths.get(value); break;
        case "--log-config": o.logConfig = Paths.get(value); break;
        case "--watch-pid": o.watchPid = Long.parseLong(value); break;
        case "--property": {
          int k = value.indexOf('=');
          if (k <= 0) throw new IllegalArgumentException("--property needs KEY=VALUE");
          o.properties.put(value.substring(0, k), value.substring(k + 1));
          break;
        }
        default: throw new IllegalArgumentException("unknown option: " + a);
      }
    }
    if (o.mode == null || !(o.mode.equals("standalone") || o.mode.equals("cloud")))
      throw new IllegalArgumentException("first argument must be 'standalone' or 'cloud'");
    if (o.configset == null) throw new IllegalArgumentException("--configset is required");
    if (o.baseDir == null) throw new IllegalArgumentException("--base-dir is required");
    o.configset = o.configset.toAbsolutePath().normalize();
    o.baseDir = o.baseDir.toAbsolutePath().normalize();
    if (o.configsetName == null) o.configsetName = o.configset.getFileName().toString();
    if (o.nodes < 1 || o.shards < 1 || o.replicas < 1)
      throw new IllegalArgumentException("--nodes, --shards and --replicas must be >= 1");
    Path here = launcherDir();
    if (o.solrXml == null) o.solrXml = here.resolve("solr.xml");
    if (o.logConfig == null) o.logConfig = here.resolve("log4j2.xml");
    return o;
  }

  /** The folder of this source file (java Launcher.java) or of the compiled class. */
  static Path launcherDir() {
    String dir = System.getProperty("paperfs.solr.dir"); // set by solr/run.sh
    if (dir != null) return Paths.get(dir).toAbsolutePath();
    String src = System.getProperty("jdk.launcher.sourcefile");
    if (src != null) return Paths.get(src).toAbsolutePath().getParent();
    try {
      Path p = Paths.get(Launcher.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      return Files.isDirectory(p) ? p : p.getParent();
    } catch (Exception e) {
      return Paths.get("solr").toAbsolutePath();
    }
  }

  // ------------------------------------------------------------------- main

  public static void main(String[] args) throws Exception {
    Options o;
    try {
      o = parse(args);
    } catch (IllegalArgumentException e) {
      if (!"help".equals(e.getMessage())) System.err.println("Launcher: " + e.getMessage());
      System.err.println(
          "usage: java -cp '<cache>/lib/*' solr/Launcher.java standalone|cloud"
              + " --configset DIR --base-dir DIR [--collection NAME] [--port N]"
              + " [--nodes N --shards N --replicas N] [--property K=V] [--no-collection]");
      System.exit(2);
      return;
    }
    Path conf = confDir(o.configset);
    if (!Files.isRegularFile(conf.resolve("solrconfig.xml"))) {
      fail("no solrconfig.xml in " + o.configset + " or " + o.configset.resolve("conf"), null);
    }
    if (Files.isDirectory(o.baseDir)) {
      try (Stream<Path> s = Files.list(o.baseDir)) {
        if (s.findAny().isPresent())
          fail("--base-dir " + o.baseDir + " is not empty; use a fresh folder per run", null);
      }
    }
    Path logDir = o.baseDir.resolve("logs");
    Files.createDirectories(logDir);
    Path install = o.baseDir.resolve("install");
    Files.createDirectories(install);

    // Before any Solr / log4j class is touched:
    setDefault("log4j2.configurationFile", o.logConfig.toAbsolutePath().toString());
    setDefault("solr.log.dir", logDir.toString());
    setDefault("solr.install.dir", install.toString());
    setDefault("jetty.testMode", "true");
    setDefault("zookeeper.4lw.commands.whitelist", "*");
    setDefault("zookeeper.admin.enableServer", "false");
    setDefault("hostName", "127.0.0.1"); // ZkTestServer's address
    setDefault("tests.zk.violationReportAction", "IGNORE"); // test-only ZK watch audit
    // Jersey logs through java.util.logging (not log4j): keep it to errors
    JUL_QUIET.setLevel(java.util.logging.Level.SEVERE);

    Runner runner = o.mode.equals("standalone") ? new Standalone(o, conf) : new Cloud(o, conf);
    installSignalHandlers(runner);
    if (o.watchPid > 0) {
      var watched = ProcessHandle.of(o.watchPid);
      if (watched.isEmpty()) fail("--watch-pid " + o.watchPid + ": no such process", null);
      watched.get().onExit().thenRun(() -> runner.shutdown(0, "process " + o.watchPid + " exited"));
    }
    long t0 = System.nanoTime();
    try {
      runner.start();
    } catch (Throwable t) {
      try {
        runner.stop();
      } catch (Throwable ignored) {
        // best effort
      }
      fail("start-up failed: " + t, t);
    }
    Map<String, Object> ready = runner.describe();
    ready.put("startup_ms", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0));
    ready.put("base_dir", o.baseDir.toString());
    ready.put("log_dir", logDir.toString());
    ready.put("pid", ProcessHandle.current().pid());
    synchronized (runner) {
      if (runner.stopped) Runtime.getRuntime().halt(0); // signal raced with start-up
      runner.ready = true;
    }
    OUT.println("PAPERFS_SOLR_READY " + json(ready));
    System.err.println("Launcher: Solr " + ready.get("solr_version") + " (" + o.mode + ") ready in "
        + ready.get("startup_ms") + " ms: " + ready.get("urls")
        + (ready.containsKey("zk_hosts") ? " zk " + ready.get("zk_hosts") : "")
        + (o.createCollection ? ", collection " + o.collection : "")
        + "; logs in " + logDir + "; stop with Ctrl-C / SIGTERM");

    Thread stdin = new Thread(() -> readCommands(runner, o.exitOnEof), "paperfs-stdin");
    stdin.setDaemon(true);
    stdin.start();

    runner.done.await();
    // shutdown() finished (signal, stdin "shutdown"); exit with its status
    Runtime.getRuntime().exit(runner.exitCode);
  }

  static Path confDir(Path configset) {
    Path conf = configset.resolve("conf");
    return Files.isRegularFile(conf.resolve("solrconfig.xml")) ? conf : configset;
  }

  static void setDefault(String key, String value) {
    if (System.getProperty(key) == null) System.setProperty(key, value);
  }

  static void fail(String message, Throwable t) {
    if (t != null) t.printStackTrace();
    System.err.println("Launcher: " + message);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("error", message);
    OUT.println("PAPERFS_SOLR_FAILED " + json(m));
    Runtime.getRuntime().halt(1);
  }

  /** SIGTERM/SIGINT/SIGHUP: shut down cleanly, exit 0. Other exits: shutdown hook. */
  static void installSignalHandlers(Runner runner) {
    // sun.misc.Signal through reflection: no "internal proprietary API" warnings
    try {
      Class<?> signal = Class.forName("sun.misc.Signal");
      Class<?> handlerType = Class.forName("sun.misc.SignalHandler");
      for (String sig : new String[] {"TERM", "INT", "HUP"}) {
        Object handler =
            java.lang.reflect.Proxy.newProxyInstance(
                handlerType.getClassLoader(),
                new Class<?>[] {handlerType},
                (proxy, method, args) -> {
                  if (method.getName().equals("handle")) {
                    new Thread(() -> runner.shutdown(0, "SIG" + sig), "paperfs-shutdown").start();
                    return null;
                  }
                  if (method.getName().equals("hashCode")) return System.identityHashCode(proxy);
                  if (method.getName().equals("equals")) return proxy == args[0];
                  return "paperfs-signal-handler";
                });
        signal.getMethod("handle", signal, handlerType)
            .invoke(null, signal.getConstructor(String.class).newInstance(sig), handler);
      }
    } catch (Throwable e) {
      System.err.println("Launcher: no signal handlers (" + e + "); relying on the shutdown hook");
    }
    Runtime.getRuntime().addShutdownHook(
        new Thread(() -> runner.shutdown(runner.exitCode, "shutdown hook"), "paperfs-hook"));
  }

  static void readCommands(Runner runner, boolean exitOnEof) {
    try (BufferedReader in =
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = in.readLine()) != null) {
        line = line.trim();
        if (line.isEmpty()) continue;
        String[] parts = line.split("\\s+");
        Map<String, Object> ev = new LinkedHashMap<>();
        ev.put("command", line);
        try {
          switch (parts[0]) {
            case "shutdown":
              runner.shutdown(0, "stdin");
              return;
            case "status":
              ev.putAll(runner.status());
              break;
            case "stop-node":
              ev.putAll(runner.stopNode(Integer.parseInt(parts[1])));
              break;
            case "start-node":
              ev.putAll(runner.startNode(Integer.parseInt(parts[1])));
              break;
            default:
              throw new IllegalArgumentException("unknown command");
          }
          ev.put("ok", true);
          OUT.println("PAPERFS_SOLR_EVENT " + json(ev));
        } catch (Throwable t) {
          ev.put("ok", false);
          ev.put("error", String.valueOf(t));
          OUT.println("PAPERFS_SOLR_ERROR " + json(ev));
        }
      }
    } catch (Exception e) {
      // unreadable stdin: treat as end of file
    }
    if (exitOnEof) runner.shutdown(0, "end of stdin");
  }

  // ------------------------------------------------------------------ runners

  abstract static class Runner {
    final Options o;
    final Path conf;
    final CountDownLatch done = new CountDownLatch(1);
    volatile int exitCode = 0;
    boolean stopped = false; // guarded by this
    boolean ready = false; // guarded by this

    Runner(Options o, Path conf) {
      this.o = o;
      this.conf = conf;
    }

    abstract void start() throws Exception;

    abstract void stop() throws Exception;

    abstract Map<String, Object> describe() throws Exception;

    Map<String, Object> status() throws Exception {
      return describe();
    }

    Map<String, Object> stopNode(int n) throws Exception {
      throw new UnsupportedOperationException("stop-node needs cloud mode");
    }

    Map<String, Object> startNode(int n) throws Exception {
      throw new UnsupportedOperationException("start-node needs cloud mode");
    }

    /** Idempotent; the first caller stops everything, later callers wait. */
    void shutdown(int code, String why) {
      synchronized (this) {
        if (stopped) {
          return;
        }
        stopped = true;
        exitCode = code;
        if (!ready) {
          // still starting: nothing worth a clean shutdown (fresh base dir), and the
          // start-up thread would race with stop(); end the JVM now
          System.err.println("Launcher: " + why + " during start-up: exiting");
          Runtime.getRuntime().halt(code);
        }
      }
      System.err.println("Launcher: " + why + ": shutting down Solr");
      long t0 = System.nanoTime();
      try {
        stop();
      } catch (Throwable t) {
        t.printStackTrace();
        exitCode = code == 0 ? 1 : code;
      }
      System.err.println("Launcher: stopped in "
          + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0) + " ms");
      done.countDown();
    }
  }

  static final class Standalone extends Runner {
    org.apache.solr.embedded.JettySolrRunner jetty;

    Standalone(Options o, Path conf) {
      super(o, conf);
    }

    @Override
    void start() throws Exception {
      Path home = o.baseDir.resolve("home");
      Files.createDirectories(home);
      Files.copy(o.solrXml, home.resolve("solr.xml"));
      Path csDir = home.resolve("configsets").resolve(o.configsetName).resolve("conf");
      copyTree(conf, csDir);
      if (o.createCollection) {
        Path core = home.resolve(o.collection);
        Files.createDirectories(core);
        Properties p = new Properties();
        p.setProperty("name", o.collection);
        p.setProperty("configSet", o.configsetName);
        o.properties.forEach(p::setProperty);
        try (var w = Files.newBufferedWriter(core.resolve("core.properties"))) {
          p.store(w, "created by paperfs solr/Launcher.java");
        }
      }
      var config =
          org.apache.solr.embedded.JettyConfig.builder()
              .setPort(o.port)
              .setContext("/solr")
              .stopAtShutdown(false)
              .withPortRetryTime(0)
              .waitForLoadingCoresToFinish(120_000L)
              .build();
      jetty = new org.apache.solr.embedded.JettySolrRunner(home.toString(), new Properties(), config);
      jetty.start();
      if (o.createCollection) {
        var cc = jetty.getCoreContainer();
        var failures = cc.getCoreInitFailures();
        if (failures.containsKey(o.collection)) {
          throw new IllegalStateException("core " + o.collection + " failed to load",
              failures.get(o.collection).exception);
        }
        if (!cc.getLoadedCoreNames().contains(o.collection)) {
          throw new IllegalStateException("core " + o.collection + " is not loaded");
        }
      }
    }

    @Override
    void stop() throws Exception {
      if (jetty != null && jetty.isRunning()) jetty.stop();
    }

    @Override
    Map<String, Object> describe() {
      Map<String, Object> m = new LinkedHashMap<>();
      String url = jetty.getBaseUrl().toString();
      m.put("mode", "standalone");
      m.put("url", url);
      m.put("urls", List.of(url));
      m.put("collection", o.createCollection ? o.collection : null);
      m.put("configset", o.configsetName);
      m.put("solr_version", org.apache.solr.client.api.util.SolrVersion.LATEST.toString());
      return m;
    }
  }

  static final class Cloud extends Runner {
    org.apache.solr.cloud.MiniSolrCloudCluster cluster;
    final List<org.apache.solr.embedded.JettySolrRunner> nodes = new ArrayList<>();

    Cloud(Options o, Path conf) {
      super(o, conf);
    }

    @Override
    void start() throws Exception {
      cluster =
          new org.apache.solr.cloud.MiniSolrCloudCluster.Builder(o.nodes, o.baseDir.resolve("cluster"))
              .withSolrXml(o.solrXml)
              .addConfig(o.configsetName, conf)
              .withTraceIdGenerationDisabled()
              .withJettyConfig(b -> b.stopAtShutdown(false).withPortRetryTime(0))
              .build();
      nodes.addAll(cluster.getJettySolrRunners());
      if (o.createCollection) {
        var create =
            org.apache.solr.client.solrj.request.CollectionAdminRequest.createCollection(
                o.collection, o.configsetName, o.shards, o.replicas);
        if (!o.properties.isEmpty()) {
          Properties p = new Properties();
          o.properties.forEach(p::setProperty);
          create.setProperties(p);
        }
        var rsp = create.process(cluster.getSolrClient());
        if (!rsp.isSuccess()) {
          throw new IllegalStateException("creating collection failed: " + rsp.getErrorMessages());
        }
        cluster.waitForActiveCollection(o.collection, 120, TimeUnit.SECONDS,
            o.shards, o.shards * o.replicas);
      }
    }

    @Override
    void stop() throws Exception {
      if (cluster != null) cluster.shutdown();
    }

    @Override
    Map<String, Object> describe() {
      Map<String, Object> m = new LinkedHashMap<>();
      List<String> urls = new ArrayList<>();
      List<Boolean> running = new ArrayList<>();
      for (var j : nodes) {
        urls.add(nodeUrl(j));
        running.add(j.isRunning());
      }
      m.put("mode", "cloud");
      m.put("url", urls.get(0));
      m.put("urls", urls);
      m.put("running", running);
      m.put("zk_hosts", cluster.getZkServer().getZkAddress());
      m.put("collection", o.createCollection ? o.collection : null);
      m.put("configset", o.configsetName);
      m.put("shards", o.shards);
      m.put("replicas", o.replicas);
      m.put("solr_version", org.apache.solr.client.api.util.SolrVersion.LATEST.toString());
      return m;
    }

    static String nodeUrl(org.apache.solr.embedded.JettySolrRunner j) {
      // getBaseUrl() needs a running node; build it from the port it had
      return "http://127.0.0.1:" + j.getLocalPort() + "/solr";
    }

    org.apache.solr.embedded.JettySolrRunner node(int n) {
      if (n < 0 || n >= nodes.size())
        throw new IllegalArgumentException("no node " + n + " (0.." + (nodes.size() - 1) + ")");
      return nodes.get(n);
    }

    @Override
    synchronized Map<String, Object> stopNode(int n) throws Exception {
      var j = node(n);
      if (j.isRunning()) {
        cluster.stopJettySolrRunner(j);
        cluster.waitForJettyToStop(j);
      }
      return nodeEvent(n, j);
    }

    @Override
    synchronized Map<String, Object> startNode(int n) throws Exception {
      var j = node(n);
      if (!j.isRunning()) {
        cluster.startJettySolrRunner(j, true);
        cluster.waitForNode(j, 60);
        if (o.createCollection && allRunning()) {
          // every replica back and active: a fault test can go on at once
          cluster.waitForActiveCollection(o.collection, 120, TimeUnit.SECONDS,
              o.shards, o.shards * o.replicas);
        }
      }
      return nodeEvent(n, j);
    }

    boolean allRunning() {
      return nodes.stream().allMatch(org.apache.solr.embedded.JettySolrRunner::isRunning);
    }

    Map<String, Object> nodeEvent(int n, org.apache.solr.embedded.JettySolrRunner j) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("node", n);
      m.put("url", nodeUrl(j));
      m.put("running", j.isRunning());
      return m;
    }
  }

  // -------------------------------------------------------------------- utils

  static void copyTree(Path from, Path to) throws java.io.IOException {
    try (Stream<Path> s = Files.walk(from)) {
      for (Path p : (Iterable<Path>) s::iterator) {
        Path target = to.resolve(from.relativize(p).toString());
        if (Files.isDirectory(p)) Files.createDirectories(target);
        else Files.copy(p, target);
      }
    }
  }

  static String json(Object v) {
    if (v == null) return "null";
    if (v instanceof String) return quote((String) v);
    if (v instanceof Number || v instanceof Boolean) return v.toString();
    if (v instanceof Map) {
      StringBuilder b = new StringBuilder("{");
      for (var e : ((Map<?, ?>) v).entrySet()) {
        if (b.length() > 1) b.append(',');
        b.append(quote(String.valueOf(e.getKey()))).append(':').append(json(e.getValue()));
      }
      return b.append('}').toString();
    }
    if (v instanceof Iterable) {
      StringBuilder b = new StringBuilder("[");
      for (Object x : (Iterable<?>) v) {
        if (b.length() > 1) b.append(',');
        b.append(json(x));
      }
      return b.append(']').toString();
    }
    return quote(v.toString());
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"': b.append("\\\""); break;
        case '\\': b.append("\\\\"); break;
        case '\n': b.append("\\n"); break;
        case '\r': b.append("\\r"); break;
        case '\t': b.append("\\t"); break;
        default:
          if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
          else b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
