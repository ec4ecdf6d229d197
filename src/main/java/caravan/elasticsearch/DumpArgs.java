package caravan.elasticsearch;

import caravan.util.CaravanException;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * The Task's {@code args} param, read the way multielasticdump reads its command line (minimist:
 * {@code --key=value}, {@code --key value}, bare {@code --flag}), split on whitespace as Stash splits it.
 * Caravan applies the options that choose indices and types itself (it runs one multielasticdump per index)
 * and passes every other option through unchanged, so Stash users' args keep working.
 */
public final class DumpArgs {
    /** Every type multielasticdump knows, plus data. */
    public static final List<String> TYPES = List.of("template", "index", "settings", "analyzer", "mapping", "alias", "data");
    /** Caravan's default when the args choose no types: everything but "index" (settings and mappings again). */
    static final Set<String> DEFAULT_TYPES = Set.of("template", "settings", "analyzer", "mapping", "alias", "data");
    /** multielasticdump's defaults (analyzer, alias and index ignored), which apply once the args choose types. */
    static final Set<String> UPSTREAM_TYPES = Set.of("template", "settings", "mapping", "data");
    /** Options Caravan sets per index itself; the user's values are read, not passed on. */
    private static final Set<String> OWN = Set.of("match", "parallel", "input", "output", "direction", "httpAuthFile",
            "ignoreType", "includeType", "delete", "input-ca", "output-ca");

    private final List<String[]> options = new ArrayList<>();
    private final String where;

    private DumpArgs(String where) {
        this.where = where;
    }

    /** @param where the field the args came from, for error messages */
    public static DumpArgs parse(String args, String where) {
        DumpArgs d = new DumpArgs(where);
        List<String> tokens = args == null || args.isBlank() ? List.of() : List.of(args.strip().split("\\s+"));
        for (int i = 0; i < tokens.size(); i++) {
            String t = tokens.get(i);
            if (!t.startsWith("--") || t.length() == 2) {
                throw new CaravanException("InvalidSpec", where + ": \"" + t + "\" is not an option (multielasticdump "
                        + "options look like --name=value)");
            }
            String body = t.substring(2);
            int eq = body.indexOf('=');
            if (eq >= 0) {
                d.options.add(new String[] {body.substring(0, eq), body.substring(eq + 1)});
            } else if (i + 1 < tokens.size() && !tokens.get(i + 1).startsWith("-")) {
                d.options.add(new String[] {body, tokens.get(++i)});
            } else {
                d.options.add(new String[] {body, "true"});
            }
        }
        return d;
    }

    /**
     * Refuses options that make elasticdump run code or read local files ({@code --transform},
     * {@code --customMatcher}, any {@code @file} value): whoever may write a BackupConfiguration would
     * otherwise run code where Caravan runs, with its service account. The operator's owner can allow them.
     */
    public DumpArgs checkSafe(boolean allowCode) {
        if (allowCode) {
            return this;
        }
        for (String[] o : options) {
            if (o[0].equals("transform") || o[0].equals("customMatcher") || o[1].startsWith("@")) {
                throw new CaravanException("InvalidSpec", where + ": --" + o[0] + " runs code or reads a local file in "
                        + "Caravan's process; set caravan.elasticsearch.allow-code-in-args=true to allow it");
            }
        }
        return this;
    }

    /** The last value given for an option, or null. */
    public String get(String key) {
        String v = null;
        for (String[] o : options) {
            if (o[0].equals(key)) {
                v = o[1];
            }
        }
        return v;
    }

    public boolean flag(String key) {
        String v = get(key);
        return v != null && !v.equalsIgnoreCase("false");
    }

    /** {@code --match}: a regular expression tested (case-insensitively) against index names and their aliases. */
    public Pattern match(String fallback) {
        String m = get("match");
        String re = m == null ? fallback : m;
        try {
            return Pattern.compile(re, Pattern.CASE_INSENSITIVE);
        } catch (PatternSyntaxException e) {
            throw new CaravanException("InvalidSpec", where + ": --match=" + re + " is not a regular expression ("
                    + e.getDescription() + ")");
        }
    }

    /** {@code --parallel}: indices at once, or the fallback. */
    public int parallel(int fallback) {
        String p = get("parallel");
        if (p == null) {
            return fallback;
        }
        try {
            int n = Integer.parseInt(p);
            if (n < 1) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new CaravanException("InvalidSpec", where + ": --parallel=" + p + " is not a positive number");
        }
    }

    /**
     * The types to dump or load. Args that choose none get Caravan's default (everything but "index", so
     * aliases and analyzers too); args that choose some get exactly what multielasticdump would do with them,
     * so Stash users' args keep their meaning: upstream's defaults, then each {@code --ignoreX=true|false},
     * then {@code --ignoreType}, then {@code --includeType}, which names exactly the types to keep.
     */
    public Set<String> types() {
        boolean chosen = options.stream().anyMatch(o -> o[0].equals("ignoreType") || o[0].equals("includeType")
                || isIgnoreFlag(o[0]));
        Set<String> types = new LinkedHashSet<>();
        for (String t : TYPES) {
            if ((chosen ? UPSTREAM_TYPES : DEFAULT_TYPES).contains(t)) {
                types.add(t);
            }
        }
        for (String t : TYPES) {
            String v = get("ignore" + Character.toUpperCase(t.charAt(0)) + t.substring(1));
            if (v != null) {
                if (v.equalsIgnoreCase("false")) {
                    types.add(t);
                } else {
                    types.remove(t);
                }
            }
        }
        String ignore = get("ignoreType");
        if (ignore != null) {
            for (String t : list(ignore, "--ignoreType")) {
                types.remove(t);
            }
        }
        String include = get("includeType");
        if (include != null) {
            types.clear();
            types.addAll(list(include, "--includeType"));
        }
        Set<String> ordered = new LinkedHashSet<>();
        TYPES.stream().filter(types::contains).forEach(ordered::add);
        return ordered;
    }

    private List<String> list(String csv, String option) {
        List<String> out = new ArrayList<>();
        for (String s : csv.split(",")) {
            String t = s.strip().toLowerCase(Locale.ROOT);
            if (t.isEmpty()) {
                continue;
            }
            if (!TYPES.contains(t)) {
                throw new CaravanException("InvalidSpec", where + ": " + option + " names \"" + t + "\"; the types are "
                        + String.join(", ", TYPES));
            }
            out.add(t);
        }
        return out;
    }

    /** {@code --prefix}/{@code --suffix}: added to index names on load, as multielasticdump does. */
    public String targetName(String index) {
        String prefix = get("prefix");
        String suffix = get("suffix");
        return (prefix == null ? "" : prefix) + index + (suffix == null ? "" : suffix);
    }

    /**
     * The options to pass on: every one Caravan does not set itself (nor the per-type ignore flags, which
     * {@link #types()} folds into one {@code --includeType}), as {@code --key=value}.
     */
    public List<String> passThrough() {
        List<String> out = new ArrayList<>();
        for (String[] o : options) {
            if (OWN.contains(o[0]) || isIgnoreFlag(o[0])) {
                continue;
            }
            out.add("--" + o[0] + "=" + o[1]);
        }
        return out;
    }

    private static boolean isIgnoreFlag(String key) {
        return key.startsWith("ignore") && TYPES.contains(key.substring("ignore".length()).toLowerCase(Locale.ROOT));
    }

    /**
     * One explicit {@code --ignoreX=true|false} per type, so multielasticdump does exactly {@code wanted}.
     * (Its {@code --includeType} would also switch on {@code ignoreChildError} and hide failed steps.)
     */
    public static List<String> ignoreFlags(Set<String> wanted) {
        List<String> out = new ArrayList<>();
        for (String t : TYPES) {
            out.add("--ignore" + Character.toUpperCase(t.charAt(0)) + t.substring(1) + "=" + !wanted.contains(t));
        }
        return out;
    }

    /** True when options change which documents are dumped or loaded, so counts are not expected to match. */
    public boolean filtersDocuments() {
        return get("searchBody") != null || get("size") != null && !get("size").equals("-1")
                || get("offset") != null && !get("offset").equals("0") || get("transform") != null
                || get("searchWithTemplate") != null;
    }
}
