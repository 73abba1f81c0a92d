// JDBC features exercised the way Java applications and BI tools use them (pgJDBC, MariaDB
// Connector/J). Usage: java JdbcFeatures KIND URL USER PASSWORD PREFIX, KIND pg | mariadb.
// Prints one JSON object a line: {"feature": ..., "ok": true|false, "detail": "..."}. Each
// feature opens its own connection, so one failure does not hide the next. Tables are prefixed
// with PREFIX. Run by test/compat/jdbc-clients.test.ts.
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

public class JdbcFeatures {
  interface Feature {
    String run(Connection c) throws Exception;
  }

  static String kind;
  static String url;
  static String user;
  static String password;
  static String prefix;
  static boolean agent;

  public static void main(String[] args) throws Exception {
    kind = args[0];
    url = args[1];
    user = args[2];
    password = args[3];
    prefix = args[4];
    agent = prefix.equals("agent");
    String t = prefix + "_jitems";
    if (!agent) {
      report("setup", c -> {
        try (Statement s = c.createStatement()) {
          s.execute("DROP TABLE IF EXISTS " + t);
          s.execute("CREATE TABLE " + t + " (id int PRIMARY KEY, name varchar(40), n numeric(10,2))");
          s.execute("INSERT INTO " + t + " (id, name, n) VALUES (1, 'one', 1.25), (2, 'two', 2.5)");
        }
        return "created";
      });
    }
    report("connect (TLS through Sluice)", c -> {
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT 1")) {
        r.next();
        return "select " + r.getInt(1);
      }
    });
    report("metadata: getTables", c -> {
      DatabaseMetaData md = c.getMetaData();
      List<String> names = new ArrayList<>();
      try (ResultSet r = md.getTables(catalog(c), schema(), "customers", new String[] {"TABLE"})) {
        while (r.next()) names.add(r.getString("TABLE_NAME"));
      }
      return names.toString();
    });
    report("metadata: getColumns", c -> {
      DatabaseMetaData md = c.getMetaData();
      List<String> cols = new ArrayList<>();
      try (ResultSet r = md.getColumns(catalog(c), schema(), "customers", "%")) {
        while (r.next()) cols.add(r.getString("COLUMN_NAME") + ":" + r.getString("NULLABLE"));
      }
      return cols.toString();
    });
    report("metadata: getPrimaryKeys", c -> {
      DatabaseMetaData md = c.getMetaData();
      List<String> keys = new ArrayList<>();
      try (ResultSet r = md.getPrimaryKeys(catalog(c), schema(), "customers")) {
        while (r.next()) keys.add(r.getString("COLUMN_NAME"));
      }
      return keys.toString();
    });
    report("masked column read", c -> {
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT id, name, ssn FROM customers ORDER BY id")) {
        List<String> rows = new ArrayList<>();
        while (r.next()) rows.add(r.getInt(1) + "/" + r.getString(2) + "/" + r.getString(3));
        return rows.toString();
      }
    });
    report("prepared statement reused (server-side after the threshold)", c -> {
      StringBuilder out = new StringBuilder();
      try (PreparedStatement p = c.prepareStatement("SELECT name FROM customers WHERE id = ?")) {
        for (int i = 0; i < 8; i++) {
          p.setInt(1, 1 + (i % 2));
          try (ResultSet r = p.executeQuery()) {
            r.next();
            out.append(r.getString(1).charAt(0));
          }
        }
      }
      return out.toString();
    });
    report("transaction: setAutoCommit(false), read, commit", c -> {
      c.setAutoCommit(false);
      int n;
      try (Statement s = c.createStatement();
          ResultSet r = s.executeQuery("SELECT COUNT(*) FROM customers")) {
        r.next();
        n = r.getInt(1);
      }
      c.commit();
      c.setAutoCommit(true);
      return "count " + n;
    });
    if (agent) return;
    report("batch updates", c -> {
      try (PreparedStatement p = c.prepareStatement("INSERT INTO " + t + " (id, name, n) VALUES (?, ?, ?)")) {
        for (int i = 10; i < 30; i++) {
          p.setInt(1, i);
          p.setString(2, "item " + i);
          p.setBigDecimal(3, new java.math.BigDecimal(i).movePointLeft(1));
          p.addBatch();
        }
        int total = 0;
        for (int k : p.executeBatch()) total += k == Statement.SUCCESS_NO_INFO ? 1 : k;
        return "inserted " + total;
      }
    });
    report("rollback and error recovery at a savepoint", c -> {
      c.setAutoCommit(false);
      try (Statement s = c.createStatement()) {
        s.executeUpdate("INSERT INTO " + t + " (id, name) VALUES (100, 'kept')");
        Savepoint sp = c.setSavepoint("sp1");
        try {
          s.executeUpdate("INSERT INTO " + t + " (id, name) VALUES (100, 'duplicate')");
        } catch (SQLException expected) {
          c.rollback(sp);
        }
        s.executeUpdate("INSERT INTO " + t + " (id, name) VALUES (101, 'after')");
        c.rollback();
        c.setAutoCommit(true);
        try (ResultSet r = s.executeQuery("SELECT COUNT(*) FROM " + t + " WHERE id >= 100")) {
          r.next();
          return "left " + r.getInt(1);
        }
      }
    });
    report("generated keys and update counts", c -> {
      try (Statement s = c.createStatement()) {
        int updated = s.executeUpdate("UPDATE " + t + " SET name = 'x' WHERE id IN (1, 2)");
        return "updated " + updated;
      }
    });
    report("numeric and text round trip", c -> {
      try (PreparedStatement p = c.prepareStatement("SELECT ?, ?")) {
        p.setBigDecimal(1, new java.math.BigDecimal("12345.67"));
        p.setString(2, "naïve – ünïcode");
        try (ResultSet r = p.executeQuery()) {
          r.next();
          return r.getBigDecimal(1).toPlainString() + " " + r.getString(2);
        }
      }
    });
  }

  static String catalog(Connection c) throws SQLException {
    return kind.equals("mariadb") ? c.getCatalog() : null;
  }

  static String schema() {
    return kind.equals("pg") ? "public" : null;
  }

  static void report(String feature, Feature f) {
    String detail;
    boolean ok;
    try (Connection c = DriverManager.getConnection(url, user, password)) {
      detail = f.run(c);
      ok = true;
    } catch (Throwable err) {
      detail = err.getClass().getSimpleName() + ": " + err.getMessage();
      ok = false;
    }
    if (detail.length() > 300) detail = detail.substring(0, 300);
    System.out.println("{\"feature\": " + quote(feature) + ", \"ok\": " + ok + ", \"detail\": " + quote(detail) + "}");
    System.out.flush();
  }

  static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char ch : s.toCharArray()) {
      if (ch == '"' || ch == '\\') b.append('\\').append(ch);
      else if (ch < 0x20) b.append(String.format("\\u%04x", (int) ch));
      else b.append(ch);
    }
    return b.append('"').toString();
  }
}
