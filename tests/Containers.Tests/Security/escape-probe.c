/*
 * escape-probe: runs one escape attempt inside a container and says what the kernel answered.
 *
 *   escape-probe ATTACK [ARG...]
 *
 * Prints "BLOCKED <errno name>" when the attempt was refused, "ESCAPED <what>" when it worked; the test also checks
 * the host. Built statically by the escape tests (gcc is one of the test run's packages) and bind-mounted read-only.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int result(long rc, const char *what)
{
    if (rc < 0) {
        printf("BLOCKED %s\n", strerrorname_np(errno));
        return 0;
    }
    printf("ESCAPED %s\n", what);
    return 0;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY);
    if (fd < 0)
        return result(-1, path);
    long n = write(fd, text, strlen(text));
    close(fd);
    return result(n, path);
}

/* opens a device node made here with the given numbers: the device cgroup decides */
static int device(mode_t type, unsigned major_, unsigned minor_)
{
    const char *path = "/tmp/probe-device";
    unlink(path);
    if (mknod(path, type | 0600, makedev(major_, minor_)) != 0)
        return result(-1, "mknod");
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return result(-1, "open device");
    char c;
    long n = read(fd, &c, 1);
    close(fd);
    return result(n, "read device");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: escape-probe ATTACK [ARG...]\n");
        return 2;
    }
    const char *a = argv[1];
    setvbuf(stdout, NULL, _IONBF, 0);

    if (!strcmp(a, "setuid-read")) { /* run setuid root: whose root is it? read argv[2] (a host file only root may read) */
        printf("euid %d\n", (int)geteuid());
        int fd = open(argv[2], O_RDONLY);
        return result(fd, "read a root-only host file");
    }
    if (!strcmp(a, "mount-tmpfs")) {
        mkdir("/tmp/m", 0755);
        return result(mount("none", "/tmp/m", "tmpfs", 0, NULL), "mount tmpfs");
    }
    if (!strcmp(a, "mount-cgroup")) { /* CVE-2022-0492: a v1 hierarchy to write release_agent in */
        mkdir("/tmp/cg", 0755);
        return result(mount("cgroup", "/tmp/cg", "cgroup", 0, "rdma"), "mount cgroup");
    }
    if (!strcmp(a, "userns-cgroup")) { /* the same through a new user namespace, as the exploit does */
        if (unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWCGROUP) != 0)
            return result(-1, "unshare");
        mkdir("/tmp/cg", 0755);
        return result(mount("cgroup", "/tmp/cg", "cgroup", 0, "rdma"), "mount cgroup in a user namespace");
    }
    if (!strcmp(a, "unshare-user"))
        return result(unshare(CLONE_NEWUSER), "unshare user namespace");
    if (!strcmp(a, "unshare-mount"))
        return result(unshare(CLONE_NEWNS), "unshare mount namespace");
    if (!strcmp(a, "fsopen"))
        return result(syscall(SYS_fsopen, "tmpfs", 0), "fsopen");
    if (!strcmp(a, "keyctl"))
        return result(syscall(SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, "probe"), "keyctl");
    if (!strcmp(a, "add_key"))
        return result(syscall(SYS_add_key, "user", "probe", "x", 1, KEY_SPEC_PROCESS_KEYRING), "add_key");
    if (!strcmp(a, "bpf")) {
        union bpf_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.map_type = BPF_MAP_TYPE_ARRAY;
        attr.key_size = 4;
        attr.value_size = 4;
        attr.max_entries = 1;
        return result(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr), "bpf map");
    }
    if (!strcmp(a, "perf_event_open")) {
        struct perf_event_attr attr;
        memset(&attr, 0, sizeof attr);
        attr.size = sizeof attr;
        attr.type = PERF_TYPE_SOFTWARE;
        attr.config = PERF_COUNT_SW_CPU_CLOCK;
        return result(syscall(SYS_perf_event_open, &attr, -1, 0, -1, 0), "perf_event_open on every process");
    }
    if (!strcmp(a, "open_by_handle_at")) { /* "shocker": a handle to the host's root inode */
        struct { unsigned int bytes; int type; unsigned char f_handle[8]; } h = {8, 1, {2, 0, 0, 0, 0, 0, 0, 0}};
        int mount_fd = open("/", O_RDONLY);
        return result(syscall(SYS_open_by_handle_at, mount_fd, &h, O_RDONLY), "open_by_handle_at");
    }
    if (!strcmp(a, "kexec_load"))
        return result(syscall(SYS_kexec_load, 0, 0, NULL, 0), "kexec_load");
    if (!strcmp(a, "init_module"))
        return result(syscall(SYS_init_module, "", 0, ""), "init_module");
    if (!strcmp(a, "swapon"))
        return result(swapon("/tmp/swap", 0), "swapon");
    if (!strcmp(a, "ptrace")) { /* a pid of the host: argv[2] */
        return result(ptrace(PTRACE_ATTACH, atoi(argv[2]), NULL, NULL), "ptrace attach to a host process");
    }
    if (!strcmp(a, "kill-host")) /* signal a host pid: argv[2] */
        return result(kill(atoi(argv[2]), 0), "signal a host process");
    if (!strcmp(a, "swap")) { /* CVE-2018-15664's exploit: exchange argv[2] and argv[3] (a directory and a symlink) forever */
        for (;;)
            if (syscall(SYS_renameat2, AT_FDCWD, argv[2], AT_FDCWD, argv[3], 2 /* RENAME_EXCHANGE */) != 0)
                return result(-1, "renameat2");
    }
    if (!strcmp(a, "kill-group")) { /* every process of its process group: host processes, were it left in the engine's */
        long rc = kill(0, SIGCONT);
        printf("SENT %s pgrp=%s\n", rc == 0 ? "ok" : strerrorname_np(errno), getpgrp() == getpid() ? "own" : "inherited");
        return 0;
    }
    if (!strcmp(a, "chroot")) { /* the classic escape: chroot deeper, climb with .., chroot again; argv[2] is a host file */
        mkdir("/tmp/jail", 0755);
        if (chroot("/tmp/jail") != 0)
            return result(-1, "chroot");
        for (int i = 0; i < 64; i++)
            if (chdir("..") != 0)
                break;
        chroot(".");
        return result(open(argv[2], O_RDONLY), "read a host file after climbing out of a chroot");
    }
    if (!strcmp(a, "sysrq"))
        return write_file("/proc/sysrq-trigger", "h");
    if (!strcmp(a, "core_pattern"))
        return write_file("/proc/sys/kernel/core_pattern", "|/tmp/x");
    if (!strcmp(a, "uevent_helper"))
        return write_file("/sys/kernel/uevent_helper", "/tmp/x");
    if (!strcmp(a, "sys-write")) /* any sysfs attribute */
        return write_file("/sys/kernel/mm/transparent_hugepage/enabled", "never");
    if (!strcmp(a, "proc-keys")) { /* masked: reads as empty */
        char buf[64];
        int fd = open("/proc/keys", O_RDONLY);
        if (fd < 0)
            return result(-1, "open /proc/keys");
        long n = read(fd, buf, sizeof buf);
        close(fd);
        if (n > 0)
            return result(n, "read /proc/keys");
        printf("BLOCKED empty\n");
        return 0;
    }
    if (!strcmp(a, "block-device")) /* MAJOR MINOR of a host disk */
        return device(S_IFBLK, atoi(argv[2]), atoi(argv[3]));
    if (!strcmp(a, "dev-mem"))
        return device(S_IFCHR, 1, 1);
    if (!strcmp(a, "dev-kmsg"))
        return device(S_IFCHR, 1, 11);
    if (!strcmp(a, "fork-bomb")) { /* forks until refused; the children wait to be counted */
        int made = 0;
        for (;;) {
            pid_t p = fork();
            if (p < 0)
                break;
            if (p == 0) {
                pause();
                _exit(0);
            }
            if (++made >= 10000)
                break;
        }
        printf("%s forks=%d\n", made >= 10000 ? "ESCAPED" : "BLOCKED", made);
        kill(0, SIGKILL);
        return 0;
    }
    if (!strcmp(a, "fill")) { /* writes to argv[2] until the disk is full */
        int fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
        static char block[65536];
        long total = 0, n;
        while ((n = write(fd, block, sizeof block)) > 0 && total < (1L << 30))
            total += n;
        printf("%s bytes=%ld %s\n", total >= (1L << 30) ? "ESCAPED" : "BLOCKED", total, n < 0 ? strerrorname_np(errno) : "");
        return 0;
    }
    if (!strcmp(a, "exe-watch")) { /* CVE-2019-5736: open /proc/PID/exe of whatever runs in here, for argv[2] seconds */
        time_t end = time(NULL) + atoi(argv[2]);
        int seen = 0;
        while (time(NULL) < end) {
            for (int pid = 2; pid < 400; pid++) {
                if (pid == getpid())
                    continue;
                char path[64], target[256];
                snprintf(path, sizeof path, "/proc/%d/exe", pid);
                int fd = open(path, O_RDONLY | O_CLOEXEC);
                if (fd < 0)
                    continue;
                long n = readlink(path, target, sizeof target - 1);
                target[n > 0 ? n : 0] = 0;
                if (strstr(target, "containers-shim") != NULL) {
                    printf("ESCAPED opened %s\n", target);
                    seen = 1;
                }
                close(fd);
            }
        }
        if (!seen)
            printf("BLOCKED EACCES\n");
        return 0;
    }
    fprintf(stderr, "escape-probe: unknown attack %s\n", a);
    return 2;
}
