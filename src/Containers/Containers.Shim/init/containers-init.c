/*
 * containers-init: PID 1 of a container started with --init, as docker-init (tini) is for Docker.
 *
 *   containers-init -- COMMAND [ARG...]
 *
 * It starts COMMAND as its child, in a process group of its own that owns the terminal when there is one; forwards
 * every signal it receives to the child; reaps every process that ends in the container (orphans are re-parented to
 * PID 1); and exits with the child's status (128+N when signal N killed it), which ends the container.
 *
 * Written in C and linked statically so that it runs in any image and costs a few hundred kilobytes per container:
 * the NativeAOT shim cannot be PID 1 for the container's life (its runtime threads would take process-directed
 * signals, which the kernel drops for a namespace's init). The engine bind-mounts it read-only at /sbin/docker-init.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* signals that come from the process's own faults or from job control stay with their usual handling */
static const int synchronous[] = {SIGFPE, SIGILL, SIGSEGV, SIGBUS, SIGABRT, SIGTRAP, SIGSYS, SIGTTIN, SIGTTOU};

int main(int argc, char **argv)
{
    int first = 1;
    if (argc > 1 && strcmp(argv[1], "--") == 0)
        first = 2;
    if (first >= argc) {
        fprintf(stderr, "containers-init: usage: containers-init -- COMMAND [ARG...]\n");
        return 1;
    }

    sigset_t waited, original;
    sigfillset(&waited);
    for (size_t i = 0; i < sizeof synchronous / sizeof *synchronous; i++)
        sigdelset(&waited, synchronous[i]);
    if (sigprocmask(SIG_SETMASK, &waited, &original) != 0) {
        perror("containers-init: sigprocmask");
        return 1;
    }

    /* giving the terminal to the child's group must not stop this process */
    struct sigaction ignore = {.sa_handler = SIG_IGN}, ttin, ttou;
    sigaction(SIGTTIN, &ignore, &ttin);
    sigaction(SIGTTOU, &ignore, &ttou);

    pid_t child = fork();
    if (child < 0) {
        perror("containers-init: fork");
        return 1;
    }

    if (child == 0) {
        sigaction(SIGTTIN, &ttin, NULL);
        sigaction(SIGTTOU, &ttou, NULL);
        if (setpgid(0, 0) != 0) {
            perror("containers-init: setpgid");
            _exit(1);
        }
        if (tcsetpgrp(STDIN_FILENO, getpgrp()) != 0 && errno != ENOTTY && errno != ENXIO && errno != EBADF) {
            perror("containers-init: tcsetpgrp");
            _exit(1);
        }
        sigprocmask(SIG_SETMASK, &original, NULL);
        execvp(argv[first], &argv[first]);
        int e = errno;
        fprintf(stderr, "containers-init: exec %s failed: %s\n", argv[first], strerror(e));
        _exit(e == ENOENT ? 127 : 126);
    }

    for (;;) {
        siginfo_t info;
        struct timespec second = {1, 0};
        int sig = sigtimedwait(&waited, &info, &second);
        if (sig < 0) {
            if (errno != EAGAIN && errno != EINTR) {
                perror("containers-init: sigtimedwait");
                return 1;
            }
        } else if (sig != SIGCHLD) {
            if (kill(child, sig) != 0 && errno != ESRCH) {
                perror("containers-init: kill");
            }
        }

        /* reap every child that ended; the command's end is the container's */
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid < 0 && errno == EINTR)
                continue;
            if (pid <= 0)
                break;
            if (pid == child)
                return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
}
