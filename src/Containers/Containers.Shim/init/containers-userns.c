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
#include <sys/syscall.h>
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

int main(int argc, char **argv)
{
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
