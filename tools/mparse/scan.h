/* mparse --scan (scan.c) */
#ifndef MPARSE_SCAN_H
#define MPARSE_SCAN_H

long mp_width_arg(const char *s); /* --width's number, or exit 64 */
int mp_scan_main(char **args, int nargs);

#endif
