/*
 * containers-userns: the two steps of a container in a user namespace that need a single-threaded process, which
 * the .NET engine and the NativeAOT shim (each with threads of their runtime) are not: the kernel refuses
 * unshare(CLONE_NEWUSER) and setns(CLONE_NEWUSER) to a process with more than one thread.
 *
 *   containers-userns create FLAGS [USERNS]
 *     Makes a user namespace and, owned by it, the namespaces FLAGS names (CLONE_NEWNS|UTS|IPC|NET, in decimal):
 *     then root in the container can bind port 80 and open raw sockets, which it could not in namespaces owned by
 *     the host's. Writes one byte to stdout when they exist, then waits for stdin to close: the engine meanwhile
 *     writes the uid and gid maps to /proc/PID/uid_map and gid_map and opens /proc/PID/ns/... for the shim to
 *     enter. Exits 0. With USERNS (a path in /proc), that user namespace is joined instead of a new one made (a pod's
 *     containers share its sandbox's), and no map is written. (Not the pid namespace: one can be entered only once it has its init, and that is the shim.)
 *
 *   containers-userns rootless PAUSE_PID_FILE UIDMAP GIDMAP -- PROGRAM ARGS...
 *     Rootless: run by an ordinary user, execs PROGRAM as root of the user's container user namespace (with a
 *     mount namespace of its own), where the engine can mount overlays, make namespaces and spawn containers. The
 *     namespace is held by a pause process (its pid in PAUSE_PID_FILE) that every later run joins, as Podman's:
 *     containers started by one run are then reachable from the next. When there is none, one is made: the pause
 *     process unshares, and this process writes its maps with newuidmap and newgidmap (UIDMAP and GIDMAP are their
 *     arguments after the pid, "CONTAINER HOST SIZE ...", from /etc/subuid and /etc/subgid), or, when those give the
 *     user no range ("-"), maps only the user itself.
 *
 *   containers-userns enter STATUS_FD USERNS_FD UID GID GROUPS CAPS_LO CAPS_HI NNP FILTER_FD CGROUPNS PATH ARG0 ARGS...
 *     The shim's last step for such a container, exec'd by the shim once the container is set up (as the host's
 *     root, which idmapped mounts and device nodes need): joins the user namespace, unshares the cgroup namespace
 *     when CGROUPNS is 1, then sets the identity (GROUPS is a comma list, or -), drops the bounding set to the
 *     capabilities (CAPS_LO/HI: the 64-bit mask's halves), gives root those capabilities, sets no_new_privs when
 *     NNP is 1, loads the seccomp filter read from FILTER_FD (-1: none) and execs PATH with ARG0 ARGS... in the
 *     environment it was given. A failure is written to STATUS_FD as the shim writes them ("step\0errno\0detail")
 *     and the exit status is 125.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static int status_fd = -1;

static void fail(const char *step, const char *detail)
{
    int err = errno;
    char buf[512];
    int n = snprintf(buf, sizeof buf, "%s%c%d%c%s", step, 0, err, 0, detail ? detail : "");
    if (status_fd >= 0 && n > 0)
    {
        ssize_t w = write(status_fd, buf, (size_t)(n < (int)sizeof buf ? n : (int)sizeof buf - 1));
        (void)w;
    }
    else
    {
        fprintf(stderr, "containers-userns: %s: %s %s\n", step, strerror(err), detail ? detail : "");
    }
    _exit(125);
}

static long number(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *s == 0 || *end != 0)
    {
        errno = EINVAL;
        fail("read arguments", what);
    }
    return v;
}

static int create(int argc, char **argv)
{
    if (argc != 3 && argc != 4)
    {
        errno = EINVAL;
        fail("read arguments", "create FLAGS [USERNS]");
    }
    int flags = (int)number(argv[2], "FLAGS");
    if (argc == 4)
    {
        /* another container's user namespace (a pod's): joined, and the new namespaces are owned by it */
        int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
        if (fd < 0 || setns(fd, CLONE_NEWUSER) < 0)
        {
            fail("join user namespace", argv[3]);
        }
        close(fd);
        if (flags != 0 && unshare(flags) < 0)
        {
            fail("unshare", "namespaces");
        }
    }
    else if (unshare(CLONE_NEWUSER | flags) < 0)
    {
        fail("unshare", "user namespace");
    }
    char c = 1;
    if (write(1, &c, 1) != 1)
    {
        fail("write", "ready");
    }
    while (read(0, &c, 1) > 0)
    {
    }
    return 0;
}

static int enter(int argc, char **argv)
{
    if (argc < 14)
    {
        errno = EINVAL;
        fail("read arguments", "enter: too few");
    }
    status_fd = (int)number(argv[2], "STATUS_FD");
    int userns = (int)number(argv[3], "USERNS_FD");
    uid_t uid = (uid_t)number(argv[4], "UID");
    gid_t gid = (gid_t)number(argv[5], "GID");
    const char *groups = argv[6];
    uint32_t lo = (uint32_t)strtoul(argv[7], NULL, 10), hi = (uint32_t)strtoul(argv[8], NULL, 10);
    int nnp = (int)number(argv[9], "NNP");
    int filter_fd = (int)number(argv[10], "FILTER_FD");
    int cgroupns = (int)number(argv[11], "CGROUPNS");
    const char *path = argv[12];
    char **args = argv + 13;

    /* the status pipe shows the payload's exec as EOF, as the shim's did */
    if (fcntl(status_fd, F_SETFD, FD_CLOEXEC) < 0)
    {
        fail("set close-on-exec", "status");
    }
    /* until the payload's exec: nothing in the container may open /proc/PID/exe or ptrace this process */
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);

    /* the filter is read before the namespace is joined: the file is the host's */
    struct sock_filter *filter = NULL;
    unsigned short count = 0;
    if (filter_fd >= 0)
    {
        size_t cap = 8192, len = 0;
        char *buf = malloc(cap);
        ssize_t n;
        while (buf && (n = read(filter_fd, buf + len, cap - len)) > 0)
        {
            len += (size_t)n;
            if (len == cap)
            {
                cap *= 2;
                buf = realloc(buf, cap);
            }
        }
        if (!buf || len % sizeof(struct sock_filter) != 0 || len / sizeof(struct sock_filter) > 0xffff)
        {
            errno = EINVAL;
            fail("read seccomp filter", "");
        }
        close(filter_fd);
        filter = (struct sock_filter *)buf;
        count = (unsigned short)(len / sizeof(struct sock_filter));
    }

    if (setns(userns, CLONE_NEWUSER) < 0)
    {
        fail("join user namespace", "");
    }
    close(userns);
    if (cgroupns && unshare(CLONE_NEWCGROUP) < 0)
    {
        fail("unshare cgroup namespace", "");
    }

    /* the filter goes in before the identity changes unless no_new_privs lets an unprivileged process load it:
       Docker's profile allows what follows (setgroups, setresuid, capset, prctl, execve) */
    int filter_late = nnp || (uid == 0 && ((lo >> CAP_SYS_ADMIN) & 1));
    struct sock_fprog prog = {count, filter};
    if (filter && !filter_late && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    {
        fail("seccomp", "");
    }

    int last = CAP_LAST_CAP;
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (f)
    {
        if (fscanf(f, "%d", &last) != 1)
        {
            last = CAP_LAST_CAP;
        }
        fclose(f);
    }
    for (int cap = 0; cap <= last; cap++)
    {
        int kept = cap < 32 ? (lo >> cap) & 1 : (hi >> (cap - 32)) & 1;
        if (!kept && prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
        {
            fail("drop bounding capability", "");
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    {
        fail("keep capabilities", "");
    }

    gid_t list[256];
    size_t ngroups = 0;
    if (strcmp(groups, "-") != 0)
    {
        for (const char *p = groups; *p && ngroups < 256;)
        {
            char *end;
            list[ngroups++] = (gid_t)strtoul(p, &end, 10);
            p = *end == ',' ? end + 1 : end;
        }
    }
    if (syscall(SYS_setgroups, ngroups, list) < 0)
    {
        fail("setgroups", "");
    }
    if (syscall(SYS_setresgid, gid, gid, gid) < 0)
    {
        fail("setgid", argv[5]);
    }
    if (syscall(SYS_setresuid, uid, uid, uid) < 0)
    {
        fail("setuid", argv[4]);
    }
    if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    {
        fail("clear keep capabilities", "");
    }

    /* root gets the set in effective, permitted and inheritable; other users keep only the bounding set */
    struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2] = {{0, 0, 0}, {0, 0, 0}};
    if (uid == 0)
    {
        data[0].effective = data[0].permitted = data[0].inheritable = lo;
        data[1].effective = data[1].permitted = data[1].inheritable = hi;
    }
    if (syscall(SYS_capset, &header, data) < 0)
    {
        fail("capset", "");
    }
    if (nnp && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    {
        fail("set no_new_privs", "");
    }
    if (filter && filter_late && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
    {
        fail("seccomp", "");
    }

    execve(path, args, environ);
    fail("exec", path);
    return 125;
}

/* joins the user and mount namespaces of the pause process PID; 0, or -1 when it is not (or no longer) one */
static int join_pause(pid_t pid)
{
    char path[64], comm[32] = {0};
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
    {
        return -1;
    }
    int ok = fgets(comm, sizeof comm, f) != NULL && strncmp(comm, "containers-paus", 15) == 0;
    fclose(f);
    if (!ok)
    {
        return -1; /* gone, and the pid reused */
    }
    snprintf(path, sizeof path, "/proc/%d/ns/user", (int)pid);
    int user = open(path, O_RDONLY | O_CLOEXEC);
    snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)pid);
    int mnt = open(path, O_RDONLY | O_CLOEXEC);
    if (user < 0 || mnt < 0)
    {
        return -1;
    }
    if (setns(user, CLONE_NEWUSER) < 0)
    {
        fail("join the rootless user namespace", path);
    }
    if (setns(mnt, CLONE_NEWNS) < 0)
    {
        fail("join the rootless mount namespace", path);
    }
    close(user);
    close(mnt);
    return 0;
}

/* runs newuidmap or newgidmap PID ARGS (a space-separated list); the exit status */
static int run_map_tool(const char *tool, pid_t pid, const char *args)
{
    char *argv[1024];
    char pidtext[16], buf[4096];
    int n = 0;
    snprintf(pidtext, sizeof pidtext, "%d", (int)pid);
    snprintf(buf, sizeof buf, "%s", args);
    argv[n++] = (char *)tool;
    argv[n++] = pidtext;
    for (char *t = strtok(buf, " "); t && n < 1022; t = strtok(NULL, " "))
    {
        argv[n++] = t;
    }
    argv[n] = NULL;
    pid_t child = fork();
    if (child == 0)
    {
        execvp(tool, argv);
        _exit(127);
    }
    int status = 0;
    if (child < 0 || waitpid(child, &status, 0) < 0)
    {
        return -1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
    {
        fail("write", path);
    }
    close(fd);
}

static int rootless(int argc, char **argv)
{
    if (argc < 7 || strcmp(argv[5], "--") != 0)
    {
        errno = EINVAL;
        fail("read arguments", "rootless PAUSE_PID_FILE UIDMAP GIDMAP -- PROGRAM ARGS...");
    }
    const char *pidfile = argv[2], *uidmap = argv[3], *gidmap = argv[4];
    char **program = argv + 6;

    FILE *f = fopen(pidfile, "r");
    int pid = 0;
    if (f)
    {
        if (fscanf(f, "%d", &pid) != 1)
        {
            pid = 0;
        }
        fclose(f);
    }
    if (pid <= 0 || join_pause(pid) < 0)
    {
        /* a new namespace, held by a pause process */
        int up[2], down[2];
        if (pipe2(up, O_CLOEXEC) < 0 || pipe2(down, O_CLOEXEC) < 0)
        {
            fail("pipe", "");
        }
        pid_t pause_pid = fork();
        if (pause_pid < 0)
        {
            fail("fork", "pause process");
        }
        if (pause_pid == 0)
        {
            char c = 0;
            if (unshare(CLONE_NEWUSER | CLONE_NEWNS) < 0)
            {
                c = 1;
            }
            if (write(up[1], &c, 1) != 1 || c != 0 || read(down[0], &c, 1) != 1 || c != 0)
            {
                _exit(1);
            }
            /* root of the namespace now: its mounts are its own */
            if (mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL) < 0)
            {
                _exit(1);
            }
            prctl(PR_SET_NAME, "containers-pause", 0, 0, 0);
            setsid();
            if (chdir("/") < 0)
            {
                _exit(1);
            }
            int null = open("/dev/null", O_RDWR);
            for (int fd = 0; fd < 3; fd++)
            {
                dup2(null, fd);
            }
            /* whatever the runtime that exec'd us had blocked or ignored, the pause process ends on SIGTERM */
            sigset_t none;
            sigemptyset(&none);
            sigprocmask(SIG_SETMASK, &none, NULL);
            signal(SIGTERM, SIG_DFL);
            for (;;)
            {
                pause();
            }
        }
        char c = 1;
        if (read(up[0], &c, 1) != 1 || c != 0)
        {
            errno = EPERM;
            fail("unshare", "a user namespace for rootless (unprivileged user namespaces disabled?)");
        }
        char path[64], text[64];
        if (strcmp(uidmap, "-") != 0)
        {
            if (run_map_tool("newuidmap", pause_pid, uidmap) != 0 || run_map_tool("newgidmap", pause_pid, gidmap) != 0)
            {
                kill(pause_pid, SIGKILL);
                errno = EPERM;
                fail("newuidmap/newgidmap", "the ranges of /etc/subuid and /etc/subgid (is the uidmap package installed?)");
            }
        }
        else
        {
            /* no subordinate ids: only the user, as root */
            snprintf(path, sizeof path, "/proc/%d/uid_map", (int)pause_pid);
            snprintf(text, sizeof text, "0 %d 1\n", (int)getuid());
            write_file(path, text);
            snprintf(path, sizeof path, "/proc/%d/setgroups", (int)pause_pid);
            write_file(path, "deny");
            snprintf(path, sizeof path, "/proc/%d/gid_map", (int)pause_pid);
            snprintf(text, sizeof text, "0 %d 1\n", (int)getgid());
            write_file(path, text);
        }
        c = 0;
        if (write(down[1], &c, 1) != 1)
        {
            fail("write", "pause process");
        }
        /* wait until the pause process has made its mounts private, then record it */
        for (int i = 0; i < 1000; i++)
        {
            char mi[64];
            snprintf(mi, sizeof mi, "/proc/%d/comm", (int)pause_pid);
            FILE *cf = fopen(mi, "r");
            char comm[32] = {0};
            int named = cf && fgets(comm, sizeof comm, cf) && strncmp(comm, "containers-paus", 15) == 0;
            if (cf)
            {
                fclose(cf);
            }
            if (named)
            {
                break;
            }
            usleep(1000);
        }
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s.%d", pidfile, (int)getpid());
        FILE *out = fopen(tmp, "w");
        if (!out || fprintf(out, "%d\n", (int)pause_pid) < 0 || fclose(out) != 0 || rename(tmp, pidfile) < 0)
        {
            kill(pause_pid, SIGKILL);
            fail("write", pidfile);
        }
        if (join_pause(pause_pid) < 0)
        {
            fail("join the rootless namespaces", "");
        }
    }
    setenv("CONTAINERS_ROOTLESS", "1", 1);
    execvp(program[0], program);
    fail("exec", program[0]);
    return 125;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && strcmp(argv[1], "rootless") == 0)
    {
        return rootless(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "create") == 0)
    {
        return create(argc, argv);
    }
    if (argc >= 2 && strcmp(argv[1], "enter") == 0)
    {
        return enter(argc, argv);
    }
    fprintf(stderr, "containers-userns is started by the Containers library, not by hand.\n");
    return 125;
}
