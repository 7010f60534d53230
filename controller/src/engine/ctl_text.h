//  ctl_text - the one text comparison the engine's modules share
//  SPDX-License-Identifier: MPL-2.0
//
//  Views come from stored rows, where any text may be NULL: a NULL never
//  equals anything. (A candidate for jad_util once the controller's other
//  NULL-checked streq calls move there too.)

#ifndef CTL_TEXT_H_INCLUDED
#define CTL_TEXT_H_INCLUDED

#include <stdbool.h>
#include <string.h>

//  True if text and value are both set and equal.
static inline bool ctl_text_is (const char *text, const char *value)
{
    return text && value && strcmp (text, value) == 0;
}

#endif
