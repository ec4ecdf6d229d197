package caravan.api;

import java.util.ArrayList;
import java.util.List;

/** Small reference and parameter types shared by Stash's resources. */
public final class Refs {
    private Refs() {
    }

    /** {@code target.ref}: a typed reference to the thing being backed up (normally an AppBinding). */
    public static class TargetRef extends Extensible {
        public String apiVersion;
        public String kind;
        public String name;
        public String namespace;
    }

    /** kmapi.ObjectReference: {@code repository: {name, namespace}}. */
    public static class ObjectRef extends Extensible {
        public String name;
        public String namespace;

        public ObjectRef() {
        }

        public ObjectRef(String namespace, String name) {
            this.namespace = namespace;
            this.name = name;
        }
    }

    /** A {@code {name, value}} task parameter. */
    public static class Param extends Extensible {
        public String name;
        public String value;

        public Param() {
        }

        public Param(String name, String value) {
            this.name = name;
            this.value = value;
        }
    }

    /** {@code spec.task}: the Task name and the invoker's parameters. */
    public static class TaskRef extends Extensible {
        public String name;
        public List<Param> params = new ArrayList<>();
    }

    /** kmapi.TypedObjectReference. */
    public static class TypedRef extends Extensible {
        public String apiGroup;
        public String kind;
        public String namespace;
        public String name;
    }

    /** {@code tempDir}: the emptyDir Stash mounts at /stash-tmp. */
    public static class TempDir extends Extensible {
        public String medium;
        public String sizeLimit;
        public Boolean disableCaching;
    }
}
