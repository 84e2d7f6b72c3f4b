// Counts Java definitions by codedb's rules (README, "What the indexer counts") with
// javac's own parser and tree API (com.sun.source.tree): for every .java file under the
// directory given, {"path": [classes, functions, methods, imports]} as JSON on stdout.
//
// classes: every named class, interface, enum, record and annotation type, nested and local
// ones too; methods: the methods and constructors spelled in the body of a named one
// (annotation elements and compact constructors included; anonymous class bodies and enum
// constant bodies have no name); functions: none; imports: import declarations.
// Run as `java JavaCounts.java DIR` (JDK 11+).
import com.sun.source.tree.ClassTree;
import com.sun.source.tree.CompilationUnitTree;
import com.sun.source.tree.MethodTree;
import com.sun.source.tree.Tree;
import com.sun.source.util.JavacTask;
import com.sun.source.util.TreeScanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.JavaFileObject;
import javax.tools.StandardJavaFileManager;
import javax.tools.ToolProvider;

public class JavaCounts {
    public static void main(String[] args) throws IOException {
        Path root = Paths.get(args[0]).toAbsolutePath();
        List<Path> files;
        try (Stream<Path> s = Files.walk(root)) {
            files = s.filter(p -> p.toString().endsWith(".java") && Files.isRegularFile(p))
                    .collect(Collectors.toList());
        }
        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        StandardJavaFileManager fm = javac.getStandardFileManager(null, null, null);
        Iterable<? extends JavaFileObject> units = fm.getJavaFileObjectsFromPaths(files);
        JavacTask task = (JavacTask) javac.getTask(null, fm, d -> {}, List.of("-proc:none"), null, units);
        Map<String, int[]> out = new TreeMap<>();
        for (CompilationUnitTree cu : task.parse()) {
            int[] c = new int[4];
            c[3] = cu.getImports().size();
            new TreeScanner<Void, Void>() {
                @Override
                public Void visitClass(ClassTree node, Void p) {
                    if (!node.getSimpleName().isEmpty()) {
                        c[0]++;
                        for (Tree m : node.getMembers()) {
                            if (m instanceof MethodTree) {
                                c[2]++;
                            }
                        }
                    }
                    return super.visitClass(node, p);
                }
            }.scan(cu, null);
            String rel = root.relativize(Paths.get(cu.getSourceFile().toUri())).toString().replace('\\', '/');
            out.put(rel, c);
        }
        StringBuilder sb = new StringBuilder("{");
        for (Map.Entry<String, int[]> e : out.entrySet()) {
            if (sb.length() > 1) sb.append(',');
            int[] c = e.getValue();
            sb.append('"').append(e.getKey().replace("\\", "\\\\").replace("\"", "\\\"")).append("\":[")
              .append(c[0]).append(',').append(c[1]).append(',').append(c[2]).append(',').append(c[3]).append(']');
        }
        System.out.println(sb.append('}'));
    }
}
