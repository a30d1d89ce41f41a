/*
 * size.h - the one number syntax of mmapfs.
 *
 * Config sizes and control-file numbers share it: decimal (leading zeros stay
 * decimal) or 0x/0X hex, optionally followed by one K, M, G or T suffix in
 * either case (powers of 1024). No sign, no fraction, no white space, nothing
 * after the suffix, and the value must fit in 64 bits.
 */
#ifndef MMAPFS_SIZE_H
#define MMAPFS_SIZE_H

#include <stdint.h>

/*
 * Parses the whole of TEXT into *OUT.
 * Returns 0, or EINVAL (not a number) or ERANGE (past 2^64 - 1).
 */
int size_parse(const char *text, uint64_t *out);

#endif
