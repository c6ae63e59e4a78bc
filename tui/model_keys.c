/* model_keys: what the presenter's keys do to the dashboard's model (model.h): the view, the
 * filter being typed, the selected request and its trace, help, scrolling, and the lesson keys
 * (space, n) that dash_model_key hands back to the runner as a dash_action. Pure, like the rest
 * of the model: tests press keys and compare screens. */
#include "tui/model.h"

#include <stdio.h>
#include <string.h>

enum dash_action dash_model_key(struct dash_model *m, int key) {
  if (m->filtering) {
    size_t n = strlen(m->filter);
    if (key == DASH_KEY_ENTER) m->filtering = false;
    else if (key == DASH_KEY_ESC) {
      m->filtering = false;
      m->filter[0] = '\0';
    } else if (key == DASH_KEY_BACKSPACE) {
      if (n) m->filter[n - 1] = '\0';
    } else if (key >= 0x20 && key < 0x7f && n + 1 < sizeof m->filter) {
      m->filter[n] = (char)key;
      m->filter[n + 1] = '\0';
    }
    m->selected = 0;
    m->selected_id[0] = '\0';
    return DASH_ACTION_NONE;
  }
  if (key == 'q' || key == 'Q' || key == 3) return DASH_ACTION_QUIT;
  if (m->help) {
    m->help = false;
    return DASH_ACTION_NONE;
  }
  if (m->trace_open) {
    if (key == DASH_KEY_ESC || key == DASH_KEY_ENTER || key == DASH_KEY_BACKSPACE || key == DASH_KEY_LEFT) {
      m->trace_open = false;
      return DASH_ACTION_NONE;
    }
    if (key == DASH_KEY_WHEEL_DOWN) key = DASH_KEY_DOWN;
    if (key == DASH_KEY_WHEEL_UP) key = DASH_KEY_UP;
    if (key == DASH_KEY_DOWN || key == 'j') m->scroll++;
    if ((key == DASH_KEY_UP || key == 'k') && m->scroll > 0) m->scroll--;
    if (key == DASH_KEY_PGDN) m->scroll += 10;
    if (key == DASH_KEY_PGUP) m->scroll = m->scroll > 10 ? m->scroll - 10 : 0;
    if (key != '?') return DASH_ACTION_NONE;
  }
  size_t idx[DASH_MAX_REQUESTS];
  size_t rows = m->view == DASH_VIEW_REQUESTS ? dash_model_filtered(m, idx, DASH_MAX_REQUESTS) : 0;
  switch (key) {
  case '?':
    m->help = true;
    break;
  case DASH_KEY_TAB:
    m->view = (enum dash_view_id)((m->view + 1) % DASH_VIEW_COUNT);
    m->scroll = 0;
    break;
  case DASH_KEY_BTAB:
    m->view = (enum dash_view_id)((m->view + DASH_VIEW_COUNT - 1) % DASH_VIEW_COUNT);
    m->scroll = 0;
    break;
  case '1':
  case '2':
  case '3':
  case '4':
    m->view = (enum dash_view_id)(key - '1');
    m->scroll = 0;
    break;
  case '/':
    m->filtering = true;
    if (m->view != DASH_VIEW_BREAKERS) m->view = DASH_VIEW_REQUESTS;
    break;
  case ' ':
    return DASH_ACTION_LESSON_TOGGLE;
  case 'n':
    return DASH_ACTION_LESSON_NEXT;
  case DASH_KEY_LEFT:
    return DASH_ACTION_SEEK_BACK;
  case DASH_KEY_RIGHT:
    return DASH_ACTION_SEEK_FORWARD;
  case DASH_KEY_WHEEL_DOWN:
    key = m->view == DASH_VIEW_REQUESTS ? DASH_KEY_DOWN : DASH_KEY_PGDN;
    return dash_model_key(m, key);
  case DASH_KEY_WHEEL_UP:
    key = m->view == DASH_VIEW_REQUESTS ? DASH_KEY_UP : DASH_KEY_PGUP;
    return dash_model_key(m, key);
  case DASH_KEY_DOWN:
  case 'j':
  case DASH_KEY_UP:
  case 'k':
    if ((key == DASH_KEY_DOWN || key == 'j') && (size_t)m->selected + 1 < rows) m->selected++;
    if ((key == DASH_KEY_UP || key == 'k') && m->selected > 0) m->selected--;
    /* back on the newest row the selection follows new requests again */
    if (rows && m->selected > 0)
      snprintf(m->selected_id, sizeof m->selected_id, "%s", m->requests[idx[m->selected]].id);
    else m->selected_id[0] = '\0';
    break;
  case DASH_KEY_PGDN:
    m->scroll++;
    break;
  case DASH_KEY_PGUP:
    if (m->scroll > 0) m->scroll--;
    break;
  case DASH_KEY_ENTER:
    if (m->view == DASH_VIEW_REQUESTS && rows) {
      if ((size_t)m->selected >= rows) m->selected = (int)rows - 1;
      snprintf(m->trace_id, sizeof m->trace_id, "%s", m->requests[idx[m->selected]].id);
      snprintf(m->trace, sizeof m->trace, "asking every proxy about request %s ...", m->trace_id);
      m->trace_open = true;
      m->scroll = 0;
      return DASH_ACTION_OPEN_TRACE;
    }
    break;
  default:
    break;
  }
  return DASH_ACTION_NONE;
}
