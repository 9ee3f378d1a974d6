/* tools/image_fmt.c - sizes, times and durations for the image commands, and their
 * command-line parsing (strings from images are escaped by escape.c). */
#include "image_fmt.h"

#include <getopt.h>
#include <time.h>

#include "commands.h"

int crs_image_cmd_args(int argc, char **argv, const char *flag_name, int flag_short, int *flag,
                       void (*usage)(FILE *out), const char **path)
{
    /* a flag without a short letter gets a value no short option can have */
    const int fval = flag_short ? flag_short : 1;
    const struct option opts[] = {
        {flag_name, no_argument, NULL, fval},
        {"help", no_argument, NULL, 'h'},
        {0, 0, 0, 0},
    };
    char shorts[4] = {'+', 'h', 0, 0};
    int c;

    if (flag_short)
        shorts[2] = (char)flag_short;
    optind = 1;
    while ((c = getopt_long(argc, argv, shorts, opts, NULL)) != -1) {
        if (c == fval) {
            *flag = 1;
        } else if (c == 'h') {
            usage(stdout);
            return CRS_EXIT_OK;
        } else {
            usage(stderr);
            return CRS_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return CRS_EXIT_USAGE;
    }
    *path = argv[optind];
    return -1;
}

const char *crs_fmt_bytes(char *buf, size_t cap, uint64_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    if (n < 1024) {
        snprintf(buf, cap, "%llu B", (unsigned long long)n);
        return buf;
    }
    double v = (double)n / 1024;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, cap, v < 10 ? "%.1f %s" : "%.0f %s", v, units[u]);
    return buf;
}

const char *crs_fmt_time(char *buf, size_t cap, uint64_t ns)
{
    time_t t = (time_t)(ns / 1000000000ull);
    struct tm tm;
    if (!gmtime_r(&t, &tm) || !strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm))
        snprintf(buf, cap, "?");
    return buf;
}

const char *crs_fmt_duration(char *buf, size_t cap, uint64_t ns)
{
    if (ns < 10000)
        snprintf(buf, cap, "%llu ns", (unsigned long long)ns);
    else if (ns < 10000000)
        snprintf(buf, cap, "%.0f us", (double)ns / 1e3);
    else if (ns < 10000000000ull)
        snprintf(buf, cap, "%.2f ms", (double)ns / 1e6);
    else
        snprintf(buf, cap, "%.1f s", (double)ns / 1e9);
    return buf;
}
