package dev.idgraph.neo4jserver;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.ConnectorPortRegister;
import org.neo4j.configuration.connectors.ConnectorType;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.internal.helpers.HostnamePort;
import org.neo4j.kernel.internal.GraphDatabaseAPI;

/**
 * A Neo4j Community DBMS for idgraph's development and tests: the embedded database with its
 * Bolt connector on 127.0.0.1, nothing else listening. It prints the Bolt URI (and writes it to
 * a file) only once a Bolt handshake succeeds, and shuts down cleanly on SIGTERM.
 */
public final class Neo4jServer {
    private static final String HOST = "127.0.0.1";
    private static final String USAGE =
            """
            usage: java -Xmx1g -jar idgraph-neo4j-server.jar --data DIR [options]
              --data DIR          database home (created if missing; data/ and logs/ go under it)
              --port N            Bolt port on 127.0.0.1, 0 for a free one (default 7687)
              --auth none|USER    no authentication (default), or USER with the password in the
                                  NEO4J_PASSWORD environment variable (kept off the command line)
              --uri-file FILE     write the Bolt URI here once ready (removed at shutdown)
              --pid-file FILE     write this process's id here once ready (removed at shutdown)
              --pagecache SIZE    page cache, e.g. 64m (default), 1g
              --exit-on-stdin-eof stop when standard input closes (a test runner that dies
                                  takes its server with it)
            """;

    private Neo4jServer() {}

    public static void main(String[] args) {
        Options options;
        try {
            options = Options.parse(args);
        } catch (IllegalArgumentException error) {
            System.err.println("neo4j-server: " + error.getMessage());
            System.err.print(USAGE);
            System.exit(2);
            return;
        }
        try {
            run(options);
        } catch (Exception error) {
            System.err.println("neo4j-server: could not start: " + error);
            for (Throwable cause = error.getCause(); cause != null; cause = cause.getCause()) {
                System.err.println("  caused by: " + cause);
            }
            System.exit(1);
        }
    }

    private static void run(Options options) throws Exception {
        Files.createDirectories(options.home);
        DatabaseManagementService dbms = new DatabaseManagementServiceBuilder(options.home)
                .setConfig(Map.of(
                        BoltConnector.enabled, true,
                        BoltConnector.listen_address, new SocketAddress(HOST, options.port),
                        BoltConnector.advertised_address, new SocketAddress(HOST, options.port),
                        BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED,
                        HttpConnector.enabled, false,
                        HttpsConnector.enabled, false,
                        GraphDatabaseSettings.auth_enabled, options.user != null,
                        GraphDatabaseSettings.udc_enabled, false,
                        GraphDatabaseSettings.pagecache_memory, options.pagecache,
                        GraphDatabaseSettings.preallocate_logical_logs, false))
                .build();
        // Registered before anything can fail, so a half-started DBMS still shuts down.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> stop(dbms, options), "neo4j-stop"));

        GraphDatabaseService database = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!database.isAvailable(TimeUnit.MINUTES.toMillis(2))) {
            throw new IllegalStateException("the default database did not come up in 2 minutes");
        }
        if (options.user != null) {
            setPassword(dbms, options.user, options.password);
        }
        HostnamePort bolt = ((GraphDatabaseAPI) database)
                .getDependencyResolver()
                .resolveDependency(ConnectorPortRegister.class)
                .getLocalAddress(ConnectorType.BOLT);
        if (bolt == null) {
            throw new IllegalStateException("the Bolt connector did not register a port");
        }
        int port = bolt.getPort();
        awaitBoltHandshake(port, Duration.ofSeconds(30));

        String uri = "bolt://" + HOST + ":" + port;
        if (options.pidFile != null) {
            writeAtomically(options.pidFile, ProcessHandle.current().pid() + "\n");
        }
        if (options.uriFile != null) {
            writeAtomically(options.uriFile, uri + "\n");
        }
        System.out.println(uri);
        System.out.flush();

        if (options.exitOnStdinEof) {
            Thread watcher = new Thread(Neo4jServer::exitWhenStdinCloses, "stdin-watcher");
            watcher.setDaemon(true);
            watcher.start();
        }
        // The DBMS's own threads keep the JVM alive; SIGTERM runs the shutdown hook.
        Thread.currentThread().join();
    }

    /** Community has one user store in the system database; embedded code may change it. */
    private static void setPassword(DatabaseManagementService dbms, String user, String password) {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        Map<String, Object> parameters = Map.of("user", user, "password", password);
        if ("neo4j".equals(user)) {
            try {
                system.executeTransactionally(
                        "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", parameters);
            } catch (RuntimeException error) {
                // A restart with the same password: nothing to change.
                if (!String.valueOf(error.getMessage()).contains("same")) {
                    throw error;
                }
            }
        } else {
            system.executeTransactionally(
                    "CREATE OR REPLACE USER $user SET PASSWORD $password CHANGE NOT REQUIRED",
                    parameters);
        }
    }

    /**
     * Readiness as a client sees it: a TCP connection that completes Bolt's version handshake
     * (magic 0x6060B017, then Bolt 5.0-5.8 or 4.4 proposed; a non-zero answer is an agreement).
     */
    private static void awaitBoltHandshake(int port, Duration timeout) throws Exception {
        byte[] handshake = {
            0x60, 0x60, (byte) 0xB0, 0x17,
            0, 8, 8, 5,
            0, 0, 4, 4,
            0, 0, 0, 0,
            0, 0, 0, 0,
        };
        long deadline = System.nanoTime() + timeout.toNanos();
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(HOST, port), 2000);
                socket.setSoTimeout(5000);
                OutputStream out = socket.getOutputStream();
                out.write(handshake);
                out.flush();
                byte[] agreed = socket.getInputStream().readNBytes(4);
                if (agreed.length == 4 && (agreed[2] != 0 || agreed[3] != 0)) {
                    return;
                }
                last = new IOException("Bolt handshake answered " + agreed.length + " bytes");
            } catch (IOException error) {
                last = error;
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("no Bolt handshake on " + HOST + ":" + port, last);
    }

    private static void exitWhenStdinCloses() {
        InputStream in = System.in;
        byte[] buffer = new byte[256];
        try {
            while (in.read(buffer) >= 0) {
                // Ignore input: only its end matters.
            }
        } catch (IOException ignored) {
            // A broken pipe is an end too.
        }
        System.err.println("neo4j-server: standard input closed, stopping");
        System.exit(0);
    }

    private static void stop(DatabaseManagementService dbms, Options options) {
        PrintStream err = System.err;
        try {
            if (options.uriFile != null) {
                Files.deleteIfExists(options.uriFile);
            }
            if (options.pidFile != null) {
                Files.deleteIfExists(options.pidFile);
            }
        } catch (IOException error) {
            err.println("neo4j-server: " + error);
        }
        dbms.shutdown();
        err.println("neo4j-server: stopped");
    }

    private static void writeAtomically(Path file, String text) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        Files.createDirectories(parent);
        Path partial = Files.createTempFile(parent, file.getFileName().toString(), ".partial");
        Files.writeString(partial, text, StandardCharsets.UTF_8);
        Files.move(partial, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private record Options(
            Path home,
            int port,
            String user,
            String password,
            Path uriFile,
            Path pidFile,
            long pagecache,
            boolean exitOnStdinEof) {

        static Options parse(String[] args) {
            Path home = null;
            int port = 7687;
            String user = null;
            Path uriFile = null;
            Path pidFile = null;
            long pagecache = 64L << 20;
            boolean exitOnStdinEof = false;
            List<String> rest = new ArrayList<>(List.of(args));
            while (!rest.isEmpty()) {
                String flag = rest.remove(0);
                switch (flag) {
                    case "--data" -> home = Path.of(value(flag, rest));
                    case "--port" -> port = port(value(flag, rest));
                    case "--auth" -> {
                        String auth = value(flag, rest);
                        user = "none".equals(auth) ? null : auth;
                    }
                    case "--uri-file" -> uriFile = Path.of(value(flag, rest));
                    case "--pid-file" -> pidFile = Path.of(value(flag, rest));
                    case "--pagecache" -> pagecache = bytes(value(flag, rest));
                    case "--exit-on-stdin-eof" -> exitOnStdinEof = true;
                    case "-h", "--help" -> {
                        System.out.print(USAGE);
                        System.exit(0);
                    }
                    default -> throw new IllegalArgumentException("unknown option " + flag);
                }
            }
            if (home == null) {
                throw new IllegalArgumentException("--data DIR is required");
            }
            String password = null;
            if (user != null) {
                password = System.getenv("NEO4J_PASSWORD");
                if (password == null || password.length() < 8) {
                    throw new IllegalArgumentException(
                            "--auth " + user + " needs NEO4J_PASSWORD set (8 characters or more)");
                }
            }
            return new Options(home, port, user, password, uriFile, pidFile, pagecache, exitOnStdinEof);
        }

        private static String value(String flag, List<String> rest) {
            if (rest.isEmpty()) {
                throw new IllegalArgumentException(flag + " needs a value");
            }
            return rest.remove(0);
        }

        private static int port(String text) {
            try {
                int port = Integer.parseInt(text);
                if (port < 0 || port > 65535) {
                    throw new NumberFormatException();
                }
                return port;
            } catch (NumberFormatException error) {
                throw new IllegalArgumentException("--port takes 0 to 65535, not " + text);
            }
        }

        private static long bytes(String text) {
            String lower = text.trim().toLowerCase();
            long unit = 1;
            char last = lower.isEmpty() ? ' ' : lower.charAt(lower.length() - 1);
            switch (last) {
                case 'k' -> unit = 1L << 10;
                case 'm' -> unit = 1L << 20;
                case 'g' -> unit = 1L << 30;
                default -> unit = 1;
            }
            String digits = unit == 1 ? lower : lower.substring(0, lower.length() - 1);
            try {
                return Long.parseLong(digits) * unit;
            } catch (NumberFormatException error) {
                throw new IllegalArgumentException("--pagecache takes a size like 64m, not " + text);
            }
        }
    }
}
